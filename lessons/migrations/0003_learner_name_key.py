"""Learners' names are compared by how they look (lessons.learner.names): each learner in a room
gets the key of their name. Where a room already holds look-alike names, the first to join keeps
the key and the others get their id instead (unique, and never a key), so nobody is renamed."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from lessons.learner.names import name_key


def fill_name_keys(apps: Any, schema_editor: Any) -> None:
    Learner = apps.get_model("lessons", "Learner")
    taken: set[tuple[int, str]] = set()
    for learner in Learner.objects.exclude(room=None).order_by("pk").iterator():
        key = name_key(learner.name)
        if (learner.room_id, key) in taken:
            key = str(learner.pk)
        taken.add((learner.room_id, key))
        Learner.objects.filter(pk=learner.pk).update(name_key=key)


class Migration(migrations.Migration):
    dependencies = [("lessons", "0002_progress_from_sessions")]

    operations = [
        migrations.AddField(
            model_name="learner",
            name="name_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(fill_name_keys, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="learner",
            constraint=models.UniqueConstraint(
                models.F("room"), models.F("name_key"), name="one_look_per_room"
            ),
        ),
    ]
