"""A learner's progress, kept in their session (so in the `default` database, surviving restarts):
lessons opened, snippets run, quiz answers. Also the per-learner seed that shuffles quiz choices."""

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

    @property
    def quiz_done(self) -> bool:
        return self.questions > 0 and self.answered == self.questions


class Progress:
    def __init__(self, session: SessionBase) -> None:
        self.session = session

    @property
    def _data(self) -> dict[str, Any]:
        return self.session.get(KEY) or {}

    def _update(self, change: Any) -> None:
        data = self._data
        change(data)
        self.session[KEY] = data  # reassign so the session knows it changed

    @property
    def seed(self) -> int:
        """Stable for the life of the session, so choices stay in place between requests."""
        seed = self._data.get("seed")
        if seed is None:
            seed = random.SystemRandom().randrange(2**31)
            self._update(lambda data: data.__setitem__("seed", seed))
        return int(seed)

    def mark_opened(self, lesson: Lesson) -> None:
        if lesson.slug not in self._data.get("opened", []):
            self._update(lambda data: data.setdefault("opened", []).append(lesson.slug))

    def mark_run(self, lesson: Lesson, snippet_id: str) -> None:
        if snippet_id not in self._data.get("runs", {}).get(lesson.slug, []):
            self._update(
                lambda data: (
                    data.setdefault("runs", {}).setdefault(lesson.slug, []).append(snippet_id)
                )
            )

    def answers(self, quiz: str) -> dict[str, int]:
        """Question id -> the original index of the chosen answer, for a lesson slug or EXAM."""
        return dict(self._data.get("answers", {}).get(quiz, {}))

    def record_answer(self, quiz: str, question_id: str, choice: int) -> None:
        self._update(
            lambda data: (
                data.setdefault("answers", {}).setdefault(quiz, {}).__setitem__(question_id, choice)
            )
        )

    def for_lesson(self, lesson: Lesson) -> LessonProgress:
        ran = set(self._data.get("runs", {}).get(lesson.slug, []))
        answers = self.answers(lesson.slug)
        return LessonProgress(
            opened=lesson.slug in self._data.get("opened", []),
            pairs_run=sum(1 for pair in lesson.pairs if ran & {s.id for s in pair.snippets}),
            pairs=len(lesson.pairs),
            correct=sum(1 for q in lesson.quiz if answers.get(q.id) == q.answer),
            answered=sum(1 for q in lesson.quiz if q.id in answers),
            questions=len(lesson.quiz),
        )

    def overview(self, catalog: Catalog) -> dict[str, LessonProgress]:
        return {lesson.slug: self.for_lesson(lesson) for lesson in catalog.lessons}

    def reset(self) -> None:
        self.session.pop(KEY, None)
