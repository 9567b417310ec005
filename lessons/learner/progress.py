"""A learner's progress, kept in their session (so in the `default` database, surviving restarts):
lessons opened, snippets run, quiz answers, exercises attempted, solved and revealed. Also the
per-learner seed that shuffles quiz choices."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.backends.base import SessionBase

from lessons.catalog import Catalog, Lesson

KEY = "course"
EXAM = "exam"


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


class Progress:
    def __init__(self, session: SessionBase) -> None:
        self.session = session

    @property
    def _data(self) -> dict[str, Any]:
        """For reading: never creates a session for a visitor who has done nothing yet."""
        return self.session.get(KEY) or {}

    @property
    def _store(self) -> dict[str, Any]:
        """For writing: the progress dict, stored in the session."""
        data: dict[str, Any] = self.session.setdefault(KEY, {})
        return data

    def _changed(self) -> None:
        self.session.modified = True  # the dict is changed in place

    @property
    def seed(self) -> int:
        """Stable for the life of the session, so choices stay in place between requests."""
        if "seed" not in self._data:
            self._store["seed"] = random.SystemRandom().randrange(2**31)
            self._changed()
        return int(self._data["seed"])

    def mark_opened(self, lesson: Lesson) -> None:
        opened = self._store.setdefault("opened", [])
        if lesson.slug not in opened:
            opened.append(lesson.slug)
            self._changed()

    def mark_run(self, lesson: Lesson, snippet_id: str) -> None:
        ran = self._store.setdefault("runs", {}).setdefault(lesson.slug, [])
        if snippet_id not in ran:
            ran.append(snippet_id)
            self._changed()

    def record_check(self, exercise_id: str, passed: bool) -> None:
        """One check of an exercise: counted as an attempt, and as solved once it passes."""
        entry = self._store.setdefault("exercises", {}).setdefault(
            exercise_id, {"checks": 0, "failed": 0, "solved": False, "revealed": False}
        )
        entry["checks"] += 1
        entry["failed"] += 0 if passed else 1
        entry["solved"] = entry["solved"] or passed
        self._changed()

    def record_reveal(self, exercise_id: str) -> None:
        entry = self._store.setdefault("exercises", {}).setdefault(
            exercise_id, {"checks": 0, "failed": 0, "solved": False, "revealed": False}
        )
        entry["revealed"] = True
        self._changed()

    def exercise(self, exercise_id: str) -> dict[str, Any]:
        """{"checks", "failed", "solved", "revealed"} for one exercise (zeros if untouched)."""
        default = {"checks": 0, "failed": 0, "solved": False, "revealed": False}
        return {**default, **self._data.get("exercises", {}).get(exercise_id, {})}

    def answers(self, quiz: str) -> dict[str, int]:
        """Question id -> the original index of the chosen answer, for a lesson slug or EXAM."""
        return dict(self._data.get("answers", {}).get(quiz, {}))

    def record_answer(self, quiz: str, question_id: str, choice: int) -> None:
        self._store.setdefault("answers", {}).setdefault(quiz, {})[question_id] = choice
        self._changed()

    def for_lesson(self, lesson: Lesson) -> LessonProgress:
        ran = set(self._data.get("runs", {}).get(lesson.slug, []))
        answers = self.answers(lesson.slug)
        return LessonProgress(
            opened=lesson.slug in self._data.get("opened", []),
            pairs_run=sum(1 for pair in lesson.comparisons if ran & {s.id for s in pair.snippets}),
            pairs=len(lesson.comparisons),
            correct=sum(1 for q in lesson.quiz if answers.get(q.id) == q.answer),
            answered=sum(1 for q in lesson.quiz if q.id in answers),
            questions=len(lesson.quiz),
            exercises_solved=sum(1 for e in lesson.exercises if self.exercise(e.id)["solved"]),
            exercises_attempted=sum(1 for e in lesson.exercises if self.exercise(e.id)["checks"]),
            exercises=len(lesson.exercises),
        )

    def overview(self, catalog: Catalog) -> dict[str, LessonProgress]:
        return {lesson.slug: self.for_lesson(lesson) for lesson in catalog.lessons}

    def reset(self) -> None:
        self.session.pop(KEY, None)
