"""Quizzes: per-learner shuffled choices, grading, and the final exam's question mix."""

from __future__ import annotations

import random
from dataclasses import dataclass

from lessons.catalog import Catalog, Question
from lessons.errors import CourseError, shorten
from lessons.learner.progress import Progress


class QuizTampered(CourseError):
    """A question id or choice that no form of ours could have sent."""

    status = 400


def choice_order(seed: int, question: Question) -> list[int]:
    """Original choice indices in the order this learner sees them."""
    order = list(range(len(question.choices)))
    random.Random(f"{seed}:{question.id}").shuffle(order)
    return order


@dataclass(frozen=True)
class ShownQuestion:
    question: Question
    order: list[int]
    chosen: int | None  # original index of the learner's latest answer, if any
    number: int
    first: int | None = None  # original index of the first answer: the one the score counts
    voting: int = 0  # the room's vote round open on it: the form keeps the right answer back

    @property
    def choices(self) -> list[tuple[int, str, int]]:
        """(position shown, text, original index) for each choice."""
        return [(pos, self.question.choices[i], i) for pos, i in enumerate(self.order)]

    @property
    def answered(self) -> bool:
        return self.chosen is not None

    @property
    def correct(self) -> bool:
        return self.chosen == self.question.answer

    @property
    def scored(self) -> bool:
        """Whether the score counts this question right: its first answer was."""
        return self.first is not None and self.first == self.question.answer

    @property
    def retried(self) -> bool:
        """Answered again differently: the feedback is for the latest, the score the first."""
        return self.first is not None and self.first != self.chosen

    @property
    def dom_id(self) -> str:
        return f"q-{self.question.id}"

    @property
    def key(self) -> str:
        """Everything of this question its form draws: every learner who sees the same order of
        choices and gave the same answer is shown the same form. id(): a catalog loaded again (a
        test that changes a lesson) holds other questions."""
        return (
            f"{self.question.id}:{id(self.question)}|{self.order}|{self.chosen}|{self.first}"
            f"|{self.number}|{self.voting}"
        )


def show(
    questions: list[Question],
    seed: int,
    answers: dict[str, int],
    first: dict[str, int] | None = None,
    voting: dict[str, int] | None = None,
) -> list[ShownQuestion]:
    """Each question as this learner sees it, with their latest answer (`answers`) and the first
    (`first`, the scored one; the latest when not given)."""
    first = answers if first is None else first
    return [
        ShownQuestion(
            q,
            choice_order(seed, q),
            answers.get(q.id),
            number,
            first.get(q.id),
            (voting or {}).get(q.id, 0),
        )
        for number, q in enumerate(questions, 1)
    ]


def resolve_answer(
    questions: list[Question], seed: int, question_id: str, position: str | None
) -> tuple[Question, int]:
    """The question and the original index of the choice shown at `position`."""
    question = next((q for q in questions if q.id == question_id), None)
    if question is None:
        raise QuizTampered(f"There is no question {shorten(question_id)} in this quiz.")
    if not position:
        raise QuizTampered("Pick one of the answers before checking.")
    try:
        index = int(position)
    except ValueError:
        raise QuizTampered(f"{shorten(position)} is not one of the answers.") from None
    order = choice_order(seed, question)
    if not 0 <= index < len(order):
        raise QuizTampered(f"Question {shorten(question_id)} has no answer number {index}.")
    return question, order[index]


def exam_questions(catalog: Catalog, seed: int, per_lesson: int = 1) -> list[Question]:
    """A few questions from every lesson, in a learner-specific mixed order."""
    rng = random.Random(f"{seed}:exam")
    picked = [
        q
        for lesson in catalog.lessons
        for q in rng.sample(list(lesson.quiz), min(per_lesson, len(lesson.quiz)))
    ]
    rng.shuffle(picked)
    return picked


def quiz_context(
    quiz: str,
    questions: list[Question],
    progress: Progress,
    voting: dict[str, int] | None = None,
) -> dict[str, object]:
    """The quiz as this learner sees it; `voting`: question id -> the room's vote round open."""
    shown = show(
        questions, progress.seed, progress.latest_answers(quiz), progress.answers(quiz), voting
    )
    return {
        "quiz": quiz,
        "questions": shown,
        "correct": sum(1 for q in shown if q.scored),
        "answered": sum(1 for q in shown if q.answered),
        "total": len(shown),
    }
