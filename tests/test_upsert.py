"""Progress rows written by one INSERT ... ON CONFLICT DO UPDATE, on either engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from lessons.learner.models import Answer, Learner, Opened
from lessons.learner.upsert import Upsert

pytestmark = pytest.mark.django_db

ANSWER = Upsert(
    Answer,
    insert=(
        "learner",
        "quiz",
        "question",
        "choice",
        "first_choice",
        "correct",
        "attempts",
        "wrong",
        "at",
    ),
    conflict=("learner", "quiz", "question"),
    update=(
        ("choice", "new.choice"),
        ("attempts", "old.attempts + 1"),
        ("wrong", "old.wrong + new.wrong"),
        ("at", "%s"),
    ),
)


def _write(learner: Learner, choice: int, at: object, later: object) -> Answer:
    ANSWER.write((learner.pk, "n-plus-one", "q1", choice, choice, False, 1, 1, at), [later])
    return Answer.objects.get(learner=learner)


def test_an_upsert_without_a_row_inserts_the_values() -> None:
    learner = Learner.objects.create()
    at = timezone.now() - timedelta(hours=1)

    answer = _write(learner, 2, at, timezone.now())

    assert (answer.choice, answer.first_choice, answer.attempts, answer.wrong, answer.at) == (
        2,
        2,
        1,
        1,
        at,
    )


def test_an_upsert_on_a_row_sets_what_its_update_says_and_keeps_the_rest() -> None:
    learner = Learner.objects.create()
    at, later = timezone.now() - timedelta(hours=1), timezone.now()
    _write(learner, 2, at, at)

    answer = _write(learner, 3, at, later)

    assert (answer.choice, answer.first_choice, answer.attempts, answer.wrong, answer.at) == (
        3,
        2,
        2,
        2,
        later,
    )
    assert Answer.objects.filter(learner=learner).count() == 1


def test_an_upsert_keeps_the_rows_of_other_learners_apart() -> None:
    first, second = Learner.objects.create(), Learner.objects.create()
    now = timezone.now()
    _write(first, 1, now, now)

    _write(second, 0, now, now)

    assert sorted(Answer.objects.values_list("learner", "choice", "attempts")) == [
        (first.pk, 1, 1),
        (second.pk, 0, 1),
    ]


def test_an_upsert_without_an_update_keeps_the_row_already_there() -> None:
    learner = Learner.objects.create()
    opened = Upsert(Opened, insert=("learner", "lesson", "at"), conflict=("learner", "lesson"))
    first, later = timezone.now() - timedelta(hours=1), timezone.now()
    opened.write((learner.pk, "n-plus-one", first))

    opened.write((learner.pk, "n-plus-one", later))

    assert list(Opened.objects.filter(learner=learner).values_list("at", flat=True)) == [first]


def test_an_upsert_refuses_values_that_do_not_match_its_fields() -> None:
    learner = Learner.objects.create()

    with pytest.raises(TypeError):
        ANSWER.write((learner.pk, "n-plus-one", "q1"))
    assert not Answer.objects.exists()
