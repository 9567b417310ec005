"""Progress used to live in each browser's session; it moves to rows. Every session holding
progress gets a learner with that progress, and keeps only the learner's id, so nobody who used
the course before loses what they did."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.db import SessionStore
from django.db import migrations
from django.utils import timezone

from lessons.catalog import get_catalog

OLD_KEY = "course"


def sessions_to_rows(apps: Any, schema_editor: Any) -> None:
    Session = apps.get_model("sessions", "Session")
    Learner = apps.get_model("lessons", "Learner")
    Opened = apps.get_model("lessons", "Opened")
    Ran = apps.get_model("lessons", "Ran")
    Answer = apps.get_model("lessons", "Answer")
    Check = apps.get_model("lessons", "Check")
    Reveal = apps.get_model("lessons", "Reveal")
    store = SessionStore()
    # The lessons as they are now: an answer to a question since removed counts as not right.
    rights = {q.id: q.answer for lesson in get_catalog().lessons for q in lesson.quiz}
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = store.decode(session.session_data)  # {} when it cannot be read
        progress = data.pop(OLD_KEY, None)
        if not isinstance(progress, dict):
            continue
        learner = Learner.objects.create(seed=0)  # the order the old seed gave is not kept
        Opened.objects.bulk_create(
            [Opened(learner=learner, lesson=slug) for slug in set(progress.get("opened", []))]
        )
        Ran.objects.bulk_create(
            [
                Ran(learner=learner, lesson=lesson, snippet=snippet)
                for lesson, snippets in progress.get("runs", {}).items()
                for snippet in set(snippets)
            ]
        )
        # Run with the models of a later schema (0004 added the scored first choice), it fills
        # that too: a session kept only one choice per question.
        later = any(f.name == "first_choice" for f in Answer._meta.fields)
        Answer.objects.bulk_create(
            [
                Answer(
                    learner=learner,
                    quiz=quiz,
                    question=question,
                    choice=choice,
                    correct=rights.get(question) == choice,
                    **({"first_choice": choice} if later else {}),
                )
                for quiz, answers in progress.get("answers", {}).items()
                for question, choice in answers.items()
            ]
        )
        for exercise, state in progress.get("exercises", {}).items():
            failed = int(state.get("failed", 0))
            passed = int(state.get("checks", 0)) - failed
            if state.get("solved"):
                passed = max(passed, 1)
            Check.objects.bulk_create(
                [Check(learner=learner, exercise=exercise, passed=False) for _ in range(failed)]
                + [Check(learner=learner, exercise=exercise, passed=True) for _ in range(passed)]
            )
            if state.get("revealed"):
                Reveal.objects.create(learner=learner, exercise=exercise)
        data["learner"] = learner.pk
        session.session_data = store.encode(data)
        session.save(update_fields=["session_data"])


class Migration(migrations.Migration):
    dependencies = [("lessons", "0001_initial"), ("sessions", "0001_initial")]

    operations = [migrations.RunPython(sessions_to_rows, migrations.RunPython.noop)]
