"""A learner's progress: lessons opened, snippets run, quiz answers, exercises checked, solved and
revealed. Kept as rows (lessons.learner.models), one per thing done, so overlapping requests from
one learner each record theirs. Also the per-learner seed that shuffles quiz choices."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connections, transaction
from django.db.models import Case, CharField, F, IntegerField, Q, Value, When
from django.db.models.functions import Cast, Concat, Greatest, Now
from django.utils import timezone

from lessons.catalog import Catalog, Lesson, Question, get_catalog
from lessons.learner import help, review
from lessons.learner.models import (
    Answer,
    Check,
    HelpRequest,
    Learner,
    Opened,
    Prediction,
    Ran,
    Reveal,
    Review,
    Vote,
)
from lessons.learner.upsert import Upsert
from lessons.learner.writes import write

EXAM = "exam"
# The seed of a visitor who has no learner yet, and of learners on their own machine: the order
# only has to stay put between requests. Room learners get a random one, so neighbours differ.
SHARED_SEED = 0


@dataclass(frozen=True)
class LessonProgress:
    opened: bool
    pairs_run: int
    pairs: int
    correct: int
    answered: int
    questions: int
    exercises_solved: int = 0
    exercises_attempted: int = 0
    exercises: int = 0
    predicted: int = 0  # snippets predicted before their first run (on any dataset)
    predicted_close: int = 0  # of those, within one query or a tenth but not exact
    predicted_exact: int = 0


@dataclass
class Rows:
    """Everything one learner has done."""

    opened: set[str] = field(default_factory=set)
    runs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    answers: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # first
    latest: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    exercises: dict[str, dict[str, Any]] = field(default_factory=dict)
    # lesson -> "snippet@dataset" -> how close the prediction came (CLOSENESS)
    predicted: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    due: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # for review


def rows_of(**learners: int) -> dict[int, Rows]:
    """What the learners a lookup names have done (`learner=pk` for one learner's pages,
    `learner__room=pk` for a whole room on the console), read in one query however many learners
    there are: every kind of progress row, side by side as (kind, learner, what, which, number)."""
    ((lookup, value),) = learners.items()
    database = connections[Learner.objects.db]
    sql, params, holes = _progress_sql(lookup, database.alias, database.vendor)
    filled = [value if i in holes else param for i, param in enumerate(params)]
    with database.cursor() as cursor:
        cursor.execute(sql, filled)
        every = cursor.fetchall()
    rows: dict[int, Rows] = defaultdict(Rows)
    revealed: list[tuple[int, str]] = []
    for kind, pk, what, which, number in every:
        done = rows[pk]
        if kind == "opened":
            done.opened.add(what)
        elif kind == "ran":
            done.runs[what].add(which)
        elif kind == "answer":
            done.answers[what][which] = number
        elif kind == "latest":
            done.latest[what][which] = number
        elif kind == "predicted":
            done.predicted[what][which] = number
        elif kind == "due":
            done.due[what].add(which)
        elif kind == "check":
            state = done.exercises.setdefault(what, _untouched())
            state["checks"] += 1
            state["failed"] += not number
            state["solved"] = state["solved"] or bool(number)
        else:
            revealed.append((pk, what))
    for pk, exercise in revealed:  # after the checks, which make the state a reveal marks
        rows[pk].exercises.setdefault(exercise, _untouched())["revealed"] = True
    return rows


# How close a prediction came, as rows_of reads it: predictions.closeness() in SQL.
CLOSENESS = {"unknown": -1, "off": 0, "close": 1, "exact": 2}
_CLOSENESS_SQL = Case(
    When(actual=None, then=Value(-1)),
    When(guess=F("actual"), then=Value(2)),
    When(
        guess__gte=F("actual") - Greatest(Value(1), F("actual") / 10),
        guess__lte=F("actual") + Greatest(Value(1), F("actual") / 10),
        then=Value(1),
    ),
    default=Value(0),
    output_field=IntegerField(),
)

# Stands for the lookup's value while the query is compiled: no primary key is negative.
_HOLE = -7_346_019


@functools.cache
def _progress_sql(
    lookup: str, alias: str, vendor: str
) -> tuple[str, tuple[Any, ...], frozenset[int]]:
    """rows_of's query, compiled once per lookup and database, and which of its parameters hold
    the lookup's value: Django takes a hundred times longer to compile this union than SQLite to
    run it, and every page reads it."""
    mine = {lookup: _HOLE}

    def side(
        model: Any,
        kind: str,
        what: str,
        which: Any,
        number: str | Case | None,
        only: Q | None = None,
    ) -> Any:
        # Every column of one type on every side (PostgreSQL's UNION matches booleans with no
        # integer).
        return model.objects.filter(only or Q(), **mine).values_list(
            Value(kind, output_field=CharField()),
            "learner",
            what,
            which or Value("", output_field=CharField()),
            number
            if isinstance(number, Case)
            else Cast(number, IntegerField())
            if number
            else Value(0, output_field=IntegerField()),
        )

    sides = [
        side(Opened, "opened", "lesson", None, None),
        side(Ran, "ran", "lesson", "snippet", None),
        side(Answer, "answer", "quiz", "question", "first_choice"),
        side(Check, "check", "exercise", None, "passed"),
        side(Reveal, "reveal", "exercise", None, None),
        side(
            Prediction,
            "predicted",
            "lesson",
            Concat("snippet", Value("@"), "dataset", output_field=CharField()),
            _CLOSENESS_SQL,
        ),
    ]
    if lookup == "learner":
        # What only the learner's own pages show (the form's latest answer, what is due for
        # review): a room's console draws neither, and a room of 200 reads a quarter less.
        sides += [
            side(Answer, "latest", "quiz", "question", "choice"),
            # The database's clock, not the compiling process's: the query is compiled once.
            side(Review, "due", "quiz", "question", None, Q(due_at__lte=Now())),
        ]
    every = sides[0].union(*sides[1:], all=True)
    sql, params = every.query.get_compiler(alias).as_sql()
    return sql, tuple(params), frozenset(i for i, p in enumerate(params) if p == _HOLE)


def _untouched() -> dict[str, Any]:
    return {"checks": 0, "failed": 0, "solved": False, "revealed": False}


class Progress:
    """One learner's progress. Without a learner (a visitor who has done nothing yet) there is
    nothing to read; the first write enrols one through `enrol` when given, and records nothing
    otherwise (a room's page seen by someone who has not joined)."""

    def __init__(self, learner: Learner | None, enrol: Callable[[], Learner] | None = None) -> None:
        self.learner = learner
        self._enrol = enrol
        self._rows: Rows | None = None

    @property
    def rows(self) -> Rows:
        if self._rows is None:
            learner = self.learner
            self._rows = rows_of(learner=learner.pk)[learner.pk] if learner else Rows()
        return self._rows

    def _writer(self) -> Learner | None:
        """The learner to record for, enrolled now if need be; forgets what was read."""
        if self.learner is None and self._enrol is not None:
            self.learner = self._enrol()
        self._rows = None
        return self.learner

    @property
    def seed(self) -> int:
        return self.learner.seed if self.learner else SHARED_SEED

    def mark_opened(self, lesson: Lesson) -> None:
        if self.learner is not None and _just_here(self.learner, lesson.slug):
            return
        if learner := self._writer():

            def opened() -> None:
                _OPENED.write((learner.pk, lesson.slug, timezone.now()))
                _touch(learner, lesson=lesson.slug)

            write(opened)

    def mark_run(self, lesson: Lesson, snippet_id: str) -> None:
        if learner := self._writer():

            def ran() -> None:  # running a lesson's snippet means it was opened
                _open(learner, lesson.slug)
                _RAN.write((learner.pk, lesson.slug, snippet_id, timezone.now()))
                _touch(learner)

            write(ran)

    def record_answer(self, quiz: str, question: Question, choice: int) -> None:
        """The learner's answer: the first one is kept for the score, the latest is shown; every
        answer counts as an attempt."""
        learner = self._writer()
        if learner is None:
            return
        correct = choice == question.answer
        holder = quiz if quiz != EXAM else review.lesson_of(get_catalog(), question)

        def answered() -> None:
            wrong = 0 if correct else 1
            values = (learner.pk, quiz, question.id, choice, choice, correct, 1, wrong)
            _ANSWER.write((*values, timezone.now()))
            review.schedule(learner, holder, question, choice)
            if quiz != EXAM:  # answering a lesson's quiz means it was opened
                _open(learner, quiz)
            _touch(learner)

        write(answered)

    def record_check(self, exercise_id: str, passed: bool, failure: str = "") -> None:
        """One check of an exercise: an attempt, solved once one passes; `failure` says why not."""
        if learner := self._writer():
            with transaction.atomic():
                Check.objects.create(
                    learner=learner, exercise=exercise_id, passed=passed, failure=failure[:200]
                )
                _touch(learner)

    def record_reveal(self, exercise_id: str) -> None:
        if learner := self._writer():
            with transaction.atomic():
                Reveal.objects.bulk_create(
                    [Reveal(learner=learner, exercise=exercise_id)], ignore_conflicts=True
                )
                _touch(learner)

    def record_review(self, lesson: Lesson, question: Question, choice: int) -> None:
        """An answer on the review page: it moves the question in the schedule and leaves the
        lesson's quiz (its score and the answer its form shows) as it was."""
        if learner := self._writer():

            def reviewed() -> None:
                review.schedule(learner, lesson.slug, question, choice)
                _touch(learner)

            write(reviewed)

    def due(self, catalog: Catalog) -> int:
        """How many questions are due for review (of those the catalog still has)."""
        due = self.rows.due
        return sum(
            1 for lesson in catalog.lessons for q in lesson.quiz if q.id in due.get(lesson.slug, ())
        )

    def exercise(self, exercise_id: str) -> dict[str, Any]:
        """{"checks", "failed", "solved", "revealed"} for one exercise (zeros if untouched)."""
        return {**_untouched(), **self.rows.exercises.get(exercise_id, {})}

    def answers(self, quiz: str) -> dict[str, int]:
        """Question id -> the original index of the first answer (the scored one), for a lesson
        slug or EXAM."""
        return dict(self.rows.answers.get(quiz, {}))

    def latest_answers(self, quiz: str) -> dict[str, int]:
        """Question id -> the original index of the latest answer (the one the form shows)."""
        return dict(self.rows.latest.get(quiz, {}))

    def for_lesson(self, lesson: Lesson) -> LessonProgress:
        return lesson_progress(
            lesson,
            opened=lesson.slug in self.rows.opened,
            ran=self.rows.runs.get(lesson.slug, set()),
            answers=self.answers(lesson.slug),
            exercises=self.rows.exercises,
            predicted=self.rows.predicted.get(lesson.slug, {}),
        )

    def predicted(self, lesson: Lesson, dataset: str) -> set[str]:
        """The lesson's snippets this learner already predicted on `dataset`."""
        keys = self.rows.predicted.get(lesson.slug, {})
        return {key.rpartition("@")[0] for key in keys if key.rpartition("@")[2] == dataset}

    def enrolled(self) -> Learner | None:
        """The learner, enrolled now if this visitor had none and may get one."""
        return self._writer()

    def overview(self, catalog: Catalog) -> dict[str, LessonProgress]:
        return {lesson.slug: self.for_lesson(lesson) for lesson in catalog.lessons}

    def reset(self) -> None:
        """Forget everything this learner did (they stay who they are, in their room)."""
        if self.learner:
            forget(Learner.objects.filter(pk=self.learner.pk))
            self.learner.lesson = ""
        self._rows = None


_OPENED = Upsert(Opened, insert=("learner", "lesson", "at"), conflict=("learner", "lesson"))
_RAN = Upsert(
    Ran, insert=("learner", "lesson", "snippet", "at"), conflict=("learner", "lesson", "snippet")
)
# The first answer is kept for the score (first_choice); a later one is the latest, one more
# attempt, and one more wrong if it is.
_ANSWER = Upsert(
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
        ("correct", "new.correct"),
        ("attempts", "old.attempts + 1"),
        ("wrong", "old.wrong + new.wrong"),
        ("at", "new.at"),
    ),
)


def lesson_progress(
    lesson: Lesson,
    *,
    opened: bool,
    ran: set[str],
    answers: dict[str, int],
    exercises: dict[str, dict[str, Any]],
    predicted: dict[str, int] | None = None,
) -> LessonProgress:
    # The console works this out for every learner of a room and lesson they touched: what was
    # not done is not looked through.
    key = lesson.answer_key
    states = [exercises[e.id] for e in lesson.exercises if e.id in exercises] if exercises else []
    return LessonProgress(
        opened=opened,
        pairs_run=sum(1 for ids in lesson.comparison_snippets if not ids.isdisjoint(ran))
        if ran
        else 0,
        pairs=len(lesson.comparison_snippets),
        correct=sum(1 for q, choice in answers.items() if q in key and key[q] == choice),
        answered=sum(1 for q in answers if q in key),
        questions=len(lesson.quiz),
        exercises_solved=sum(1 for state in states if state["solved"]),
        exercises_attempted=sum(1 for state in states if state["checks"]),
        exercises=len(lesson.exercises),
        **(_predictions(predicted) if predicted else _NO_PREDICTIONS),
    )


_NO_PREDICTIONS = {"predicted": 0, "predicted_close": 0, "predicted_exact": 0}


def _predictions(predicted: dict[str, int]) -> dict[str, int]:
    """A snippet counts once however many datasets it was predicted on, at its best."""
    best: dict[str, int] = {}
    for key, closeness in predicted.items():
        snippet = key.rpartition("@")[0]
        best[snippet] = max(best.get(snippet, -1), closeness)
    return {
        "predicted": len(best),
        "predicted_close": sum(1 for c in best.values() if c == CLOSENESS["close"]),
        "predicted_exact": sum(1 for c in best.values() if c == CLOSENESS["exact"]),
    }


def forget(learners: Any) -> None:
    """Delete every progress row of these learners (a QuerySet of Learner), and the lesson they
    last opened: their next opening is recorded anew (_just_here)."""
    with transaction.atomic():
        for model in (Opened, Ran, Answer, Check, Reveal, Prediction, Vote, Review, HelpRequest):
            model.objects.filter(learner__in=learners).delete()
        learners.update(lesson="")
    help.forget_queues()


# A learner back on the lesson they last opened this recently has nothing new to record: the
# opening is stored and "idle" counts in minutes (a room reopens its lesson page all the time).
JUST_HERE = timedelta(seconds=30)


def _just_here(learner: Learner, lesson: str) -> bool:
    return learner.lesson == lesson and timezone.now() - learner.last_seen < JUST_HERE


# How stale a learner's last_seen may be before an action writes it again ("idle" counts in
# minutes; a room's learners act every few seconds).
SEEN_EVERY = timedelta(seconds=15)


def _open(learner: Learner, lesson: str) -> None:
    """The learner opened `lesson`: stored once (the lesson they last opened is stored)."""
    if learner.lesson != lesson:
        _OPENED.write((learner.pk, lesson, timezone.now()))


def _touch(learner: Learner, **fields: str) -> None:
    now = timezone.now()
    if not fields and learner.last_seen and now - learner.last_seen < SEEN_EVERY:
        return
    Learner.objects.filter(pk=learner.pk).update(last_seen=now, **fields)
    learner.last_seen = now
    for name, value in fields.items():
        setattr(learner, name, value)
