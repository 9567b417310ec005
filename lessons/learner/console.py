"""What the instructor's console shows of a room: everyone's progress by lesson, each question's
answers as they arrive, and where the room is stuck. Every view reads the whole room in a fixed
number of queries, however many learners joined."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from lessons.catalog import Catalog, Exercise, Lesson, Question, get_catalog
from lessons.learner.help import help_rows
from lessons.learner.models import Answer, Check, Learner, Prediction, Review, Room, Vote
from lessons.learner.progress import LessonProgress, Rows, lesson_progress, rows_of
from lessons.learner.votes import NO_POLL, Poll, distributions, poll_of

# Nothing done for this long: the console marks the learner idle.
IDLE_AFTER = timedelta(minutes=5)


@dataclass
class LearnerRow:
    learner: Learner
    lessons: dict[str, LessonProgress]
    now: datetime
    # The lessons the learner did anything in; every other one is its shared blank progress.
    touched: frozenset[str] = frozenset()

    @property
    def idle(self) -> bool:
        return self.now - self.learner.last_seen >= IDLE_AFTER

    @property
    def idle_minutes(self) -> int:
        return int((self.now - self.learner.last_seen).total_seconds() // 60)

    @property
    def left(self) -> bool:
        return self.learner.left_at is not None

    def total(self, name: str) -> int:
        # A blank progress adds nothing to any figure.
        return sum(getattr(self.lessons[slug], name) for slug in self.touched)


def blank_progress(catalog: Catalog) -> dict[str, LessonProgress]:
    """Each lesson's progress for a learner who has not touched it, shared by every such row."""
    return {
        lesson.slug: lesson_progress(lesson, opened=False, ran=set(), answers={}, exercises={})
        for lesson in catalog.lessons
    }


def _touched(done: Rows, catalog: Catalog) -> frozenset[str]:
    lessons = catalog.exercises
    return frozenset(
        {*done.opened, *done.runs, *done.answers, *done.predicted}
        | {lessons[e][0].slug for e in done.exercises if e in lessons}
    )


def learner_rows(room: Room, catalog: Catalog) -> list[LearnerRow]:
    """Every learner of the room with their progress in every lesson, by name."""
    in_room = Learner.objects.filter(room=room)
    rows = rows_of(learner__room=room.pk)
    now = timezone.now()
    # Most learners have touched few of the lessons: only those are worked out for each row (a
    # room of 200 by 31 lessons worked out in full takes most of a console refresh).
    blank = blank_progress(catalog)
    # A room works through the same lessons in step: many learners have done exactly the same
    # in a lesson, and their progress in it is worked out once.
    same: dict[tuple[object, ...], LessonProgress] = {}

    def progress(lesson: Lesson, done: Rows) -> LessonProgress:
        slug = lesson.slug
        ran = done.runs.get(slug, set())
        # Lesson quizzes only: the exam's answers are the learner's own business.
        answers = done.answers.get(slug, {})
        predicted = done.predicted.get(slug, {})
        states = done.exercises
        key = (
            slug,
            slug in done.opened,
            frozenset(ran),
            frozenset(answers.items()),
            frozenset(predicted.items()),
            tuple(
                (states[e.id]["solved"], states[e.id]["checks"]) if e.id in states else None
                for e in lesson.exercises
            ),
        )
        found = same.get(key)
        if found is None:
            found = same[key] = lesson_progress(
                lesson,
                opened=slug in done.opened,
                ran=ran,
                answers=answers,
                exercises=states,
                predicted=predicted,
            )
        return found

    def row(learner: Learner) -> LearnerRow:
        done = rows[learner.pk]
        touched = _touched(done, catalog) & blank.keys()
        lessons = dict(blank)
        for slug in touched:
            lessons[slug] = progress(catalog.by_slug[slug], done)
        return LearnerRow(learner, lessons, now, frozenset(touched))

    return [row(learner) for learner in in_room.order_by("name")]


@dataclass(frozen=True)
class ChoiceCount:
    text: str
    count: int
    share: float  # of those who answered, 0..1
    right: bool


@dataclass(frozen=True)
class QuestionCounts:
    question: Question
    number: int
    answered: int
    choices: tuple[ChoiceCount, ...]  # in the lesson's own order
    revealed: bool
    poll: Poll = NO_POLL  # the room's vote on it
    # Each vote round held so far: how many chose each choice, in the lesson's order.
    rounds: tuple[VoteRound, ...] = ()

    @property
    def by_choice(self) -> list[tuple[ChoiceCount, list[ChoiceCount]]]:
        """Each choice with its count in every vote round, for a table of rounds side by side."""
        return [(c, [r.choices[i] for r in self.rounds]) for i, c in enumerate(self.choices)]


@dataclass(frozen=True)
class VoteRound:
    number: int
    voted: int
    choices: tuple[ChoiceCount, ...]


def clicker(room: Room, lesson: Lesson) -> list[QuestionCounts]:
    """Each question of the lesson's quiz with how many learners hold each answer now."""
    held = Counter(
        Answer.objects.filter(learner__room=room, quiz=lesson.slug).values_list(
            "question", "choice"
        )
    )
    voted = distributions(room, lesson.slug)
    result = []
    for number, question in enumerate(lesson.quiz, 1):
        answered = sum(held[(question.id, i)] for i in range(len(question.choices)))
        poll = poll_of(room, lesson.slug, question.id)
        rounds = tuple(
            _round(question, n, voted.get((question.id, n), Counter()))
            for n in range(1, poll.round + 1)
        )
        result.append(
            QuestionCounts(
                question,
                number,
                answered,
                tuple(
                    ChoiceCount(
                        text,
                        held[(question.id, i)],
                        held[(question.id, i)] / answered if answered else 0.0,
                        i == question.answer,
                    )
                    for i, text in enumerate(question.choices)
                ),
                question.id in room.revealed,
                poll,
                rounds,
            )
        )
    return result


def _round(question: Question, number: int, chose: Counter[int]) -> VoteRound:
    voted = sum(chose.values())
    return VoteRound(
        number,
        voted,
        tuple(
            ChoiceCount(text, chose[i], chose[i] / voted if voted else 0.0, i == question.answer)
            for i, text in enumerate(question.choices)
        ),
    )


@dataclass(frozen=True)
class StuckExercise:
    lesson: Lesson
    exercise: Exercise
    failed: int  # failed checks
    failing: int  # learners who failed and have not solved it
    solved: int
    common_failure: str
    common_failure_count: int


@dataclass(frozen=True)
class StuckQuestion:
    lesson: Lesson
    question: Question
    wrong: int  # wrong answers given, counting every try
    wrong_now: int  # learners whose answer is wrong now
    common_wrong: str


def stuck_exercises(room: Room, catalog: Catalog, limit: int = 5) -> list[StuckExercise]:
    """Exercises with the most failed checks, each with its most common failure."""
    checks = Check.objects.filter(learner__room=room)
    failures: dict[str, Counter[str]] = defaultdict(Counter)
    for exercise, failure, number in (
        checks.filter(passed=False).values_list("exercise", "failure").annotate(n=Count("pk"))
    ):
        failures[exercise][failure or "failed"] += number
    # Count of passes, not Max("passed"): PostgreSQL has no max() of booleans.
    per_learner = checks.values("exercise", "learner").annotate(
        solved=Count("pk", filter=Q(passed=True))
    )
    solved: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    for row in per_learner:
        (solved if row["solved"] else failing)[row["exercise"]] += 1
    found = []
    for exercise_id, counter in failures.items():
        if exercise_id not in catalog.exercises:
            continue  # an exercise since removed from the lessons
        lesson, exercise = catalog.exercises[exercise_id]
        label, count = counter.most_common(1)[0]
        found.append(
            StuckExercise(
                lesson,
                exercise,
                sum(counter.values()),
                failing[exercise_id],
                solved[exercise_id],
                label,
                count,
            )
        )
    found.sort(key=lambda s: (-s.failed, -s.failing, s.exercise.id))
    return found[:limit]


def stuck_questions(room: Room, catalog: Catalog, limit: int = 5) -> list[StuckQuestion]:
    """Lesson questions with the most wrong answers, each with the wrong answer most held."""
    answers = Answer.objects.filter(learner__room=room).exclude(quiz="exam")
    wrong = dict(
        answers.values_list("question")
        .annotate(n=Sum("wrong"))
        .filter(n__gt=0)
        .values_list("question", "n")
    )
    held = Counter(answers.filter(correct=False).values_list("question", "choice"))
    questions = {q.id: (lesson, q) for lesson in catalog.lessons for q in lesson.quiz}
    found = []
    for question_id, count in wrong.items():
        if question_id not in questions:
            continue
        lesson, question = questions[question_id]
        now = {choice: n for (qid, choice), n in held.items() if qid == question_id}
        common = max(now, key=lambda choice: now[choice]) if now else None
        found.append(
            StuckQuestion(
                lesson,
                question,
                count,
                sum(now.values()),
                question.choices[common] if common is not None else "",
            )
        )
    found.sort(key=lambda s: (-s.wrong, s.question.id))
    return found[:limit]


EXPORT_HEADING = (
    "learner",
    "joined",
    "last_seen",
    "left",
    "lesson",
    "opened",
    "pairs_run",
    "pairs",
    "quiz_correct",
    "quiz_answered",
    "questions",
    "exercises_solved",
    "exercises_attempted",
    "exercises",
    "predicted",
    "predicted_exact",
    "predicted_close",
)


def export_rows(room: Room, catalog: Catalog) -> list[tuple[object, ...]]:
    """The room's results for a spreadsheet: a heading, then one row per learner and lesson."""
    rows: list[tuple[object, ...]] = [EXPORT_HEADING]
    for row in learner_rows(room, catalog):
        learner = row.learner
        for lesson in catalog.lessons:
            p = row.lessons[lesson.slug]
            rows.append(
                (
                    learner.name,
                    learner.joined_at.isoformat(timespec="seconds"),
                    learner.last_seen.isoformat(timespec="seconds"),
                    "yes" if row.left else "no",
                    lesson.slug,
                    "yes" if p.opened else "no",
                    p.pairs_run,
                    p.pairs,
                    p.correct,
                    p.answered,
                    p.questions,
                    p.exercises_solved,
                    p.exercises_attempted,
                    p.exercises,
                    p.predicted,
                    p.predicted_exact,
                    p.predicted_close,
                )
            )
    # Then each kind of row a lesson's totals leave out, as a section of its own: a blank row,
    # its name, its heading, its rows.
    for title, section in _sections(room):
        rows += [(), (title,), *section]
    return rows


def _sections(room: Room) -> list[tuple[str, list[tuple[object, ...]]]]:
    return [
        ("predictions", prediction_rows(room)),
        ("votes", vote_rows(room)),
        ("review schedule", review_rows(room)),
        ("help requests", help_rows(room)),
    ]


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def prediction_rows(room: Room) -> list[tuple[object, ...]]:
    """Every prediction of the room, with what the run measured."""
    rows: list[tuple[object, ...]] = [
        ("learner", "lesson", "snippet", "dataset", "predicted", "formula", "measured", "at")
    ]
    found = Prediction.objects.filter(learner__room=room).select_related("learner")
    for p in found.order_by("learner__name", "lesson", "snippet", "dataset"):
        measured = "" if p.actual is None else p.actual
        row = (p.learner.name, p.lesson, p.snippet, p.dataset, p.guess, p.said, measured)
        rows.append((*row, _when(p.at)))
    return rows


def review_rows(room: Room) -> list[tuple[object, ...]]:
    """Where each learner's answered questions stand in their review schedule."""
    rows: list[tuple[object, ...]] = [
        ("learner", "lesson", "question", "box", "due_at", "answered", "last_answer_at")
    ]
    found = Review.objects.filter(learner__room=room).select_related("learner")
    for r in found.order_by("learner__name", "quiz", "question"):
        row = (r.learner.name, r.quiz, r.question, r.box, _when(r.due_at), r.seen, _when(r.at))
        rows.append(row)
    return rows


def vote_rows(room: Room) -> list[tuple[object, ...]]:
    """Every vote of the room, by question and round; the choice as the lesson writes it."""
    rows: list[tuple[object, ...]] = [
        ("learner", "quiz", "question", "round", "choice", "right", "at")
    ]
    questions = {(lesson.slug, q.id): q for lesson in get_catalog().lessons for q in lesson.quiz}
    found = Vote.objects.filter(learner__room=room).select_related("learner")
    for v in found.order_by("quiz", "question", "round", "learner__name"):
        question = questions.get((v.quiz, v.question))
        text = question.choices[v.choice] if question and v.choice < len(question.choices) else ""
        right = "yes" if question and v.choice == question.answer else "no"
        rows.append((v.learner.name, v.quiz, v.question, v.round, text, right, _when(v.at)))
    return rows
