"""The review schedule: Leitner boxes over every quiz question a learner has answered.

A wrong answer puts the question in box 1, due at once; a right one moves it up a box, and the
higher the box the longer it rests before it is due again. Answers count wherever they are given:
a lesson's quiz, the final exam or the review page itself. Kept as one row per learner and
question (lessons.learner.models.Review), keyed by the lesson that holds the question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from lessons.catalog import Catalog, Lesson, Question
from lessons.learner.models import Learner, Review
from lessons.learner.upsert import Upsert

# How long a question rests in each box after a right answer before it is due again. Box 1 is
# where a wrong answer sends it: due at once.
RESTS: dict[int, timedelta] = {
    1: timedelta(0),
    2: timedelta(days=1),
    3: timedelta(days=3),
    4: timedelta(days=7),
    5: timedelta(days=21),
}
TOP = max(RESTS)
SHOWN = 10  # questions on the review page at once


# A right answer moves the question up a box (to the top at most), due as long from now as the
# box it lands in rests; a wrong one puts it back in box 1, due at once.
_CLIMB = Upsert(
    Review,
    insert=("learner", "quiz", "question", "box", "due_at", "seen", "at", "choice"),
    conflict=("learner", "quiz", "question"),
    update=(
        ("box", f"CASE WHEN old.box >= {TOP} THEN {TOP} ELSE old.box + 1 END"),
        (
            "due_at",
            "CASE old.box " + " ".join(f"WHEN {box} THEN %s" for box in RESTS) + " ELSE %s END",
        ),
        ("seen", "old.seen + 1"),
        ("at", "new.at"),
        ("choice", "new.choice"),
    ),
)
_BACK = Upsert(
    Review,
    insert=_CLIMB.insert,
    conflict=_CLIMB.conflict,
    update=(
        ("box", "1"),
        ("due_at", "new.at"),
        ("seen", "old.seen + 1"),
        ("at", "new.at"),
        ("choice", "new.choice"),
    ),
)


def schedule(learner: Learner, lesson: str, question: Question, choice: int) -> None:
    """Move the question to its next box after this answer (inside the caller's transaction)."""
    now = timezone.now()
    correct = choice == question.answer
    first = 2 if correct else 1  # a first answer that is right has already climbed a box
    values = (learner.pk, lesson, question.id, first, now + RESTS[first], 1, now, choice)
    if correct:
        rests = [now + RESTS[min(box + 1, TOP)] for box in RESTS] + [now + RESTS[TOP]]
        _CLIMB.write(values, rests)
    else:
        _BACK.write(values)


@dataclass(frozen=True)
class Due:
    lesson: Lesson
    question: Question
    box: int
    due_at: datetime
    choice: int  # the last answer, original index


@dataclass(frozen=True)
class Schedule:
    due: list[Due]  # the first SHOWN due, the longest waiting first
    waiting: int  # due beyond those shown
    scheduled: int  # every question in the schedule
    next_at: datetime | None  # when the next one not yet due will be


def questions(catalog: Catalog) -> dict[str, tuple[Lesson, Question]]:
    """Question id -> its lesson and question, across the catalog (ids are unique)."""
    return {q.id: (lesson, q) for lesson in catalog.lessons for q in lesson.quiz}


def lesson_of(catalog: Catalog, question: Question) -> str:
    """The slug of the lesson that holds a question (an exam question is a lesson's)."""
    found = questions(catalog).get(question.id)
    return found[0].slug if found else ""


def read(learner: Learner | None, catalog: Catalog, now: datetime | None = None) -> Schedule:
    """The learner's schedule as the review page shows it. Rows of questions a lesson no longer
    has are left out."""
    if learner is None:
        return Schedule([], 0, 0, None)
    now = now or timezone.now()
    known = questions(catalog)
    due: list[Due] = []
    later: list[datetime] = []
    for row in Review.objects.filter(learner=learner).order_by("due_at", "quiz", "question"):
        found = known.get(row.question)
        if found is None or found[0].slug != row.quiz:
            continue
        if row.due_at <= now:
            due.append(Due(found[0], found[1], row.box, row.due_at, row.choice))
        else:
            later.append(row.due_at)
    return Schedule(
        due[:SHOWN], max(0, len(due) - SHOWN), len(due) + len(later), min(later, default=None)
    )


def one(learner: Learner | None, catalog: Catalog, question_id: str) -> Due | None:
    """One question's place in the schedule (for the page after a review answer)."""
    found = questions(catalog).get(question_id)
    if learner is None or found is None:
        return None
    row = Review.objects.filter(learner=learner, quiz=found[0].slug, question=question_id).first()
    return Due(found[0], found[1], row.box, row.due_at, row.choice) if row else None
