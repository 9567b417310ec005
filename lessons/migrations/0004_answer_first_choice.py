"""An answer keeps the first choice, which the score counts, beside the latest. Answers given
before this kept only their latest choice: it stands for the first."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models


def first_is_latest(apps: Any, schema_editor: Any) -> None:
    answer = apps.get_model("lessons", "Answer")
    answer.objects.using(schema_editor.connection.alias).update(first_choice=models.F("choice"))


class Migration(migrations.Migration):
    dependencies = [("lessons", "0003_learner_name_key")]

    operations = [
        migrations.AddField(
            model_name="answer",
            name="first_choice",
            field=models.PositiveSmallIntegerField(null=True),
        ),
        migrations.RunPython(first_is_latest, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="answer",
            name="first_choice",
            field=models.PositiveSmallIntegerField(),
        ),
    ]
