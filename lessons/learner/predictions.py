"""Predict, then run: the learner says how many queries a lesson snippet will send before its
first run on a dataset, as a number or as a formula over the dataset's row counts ("1 + posts");
the run then shows the truth beside the guess with a line on the gap. The first prediction per
snippet and dataset is kept: guessing again after seeing the count predicts nothing."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from lessons.catalog import Snippet
from lessons.catalog.expect import NAMES, ExpectError, evaluate, parse
from lessons.datasets import DatasetStats
from lessons.errors import CourseError, shorten
from lessons.learner.models import Learner, Prediction, Room
from lessons.learner.upsert import Upsert
from lessons.learner.writes import write

BARS_SHOWN = 12  # distinct predicted counts a histogram draws before grouping the rest
SAID_LIMIT = 80  # characters of a formula
GUESS_LIMIT = 10_000_000  # more queries than any snippet could send in its time limit
# Names a learner can write in a formula: the dataset's row counts, without the join table.
FORMULA_NAMES = tuple(name for name in NAMES if name != "post_tags")


class BadPrediction(CourseError):
    status = 400


@dataclass(frozen=True)
class Guess:
    number: int  # what the answer comes to on the dataset
    said: str  # the formula as typed, "" for a plain number


def read_guess(raw: str, counts: dict[str, int]) -> Guess | None:
    """The learner's prediction from the form: None when they skipped it (left it empty);
    BadPrediction (with what to write instead) when it is neither a number nor a formula."""
    text = " ".join(raw.split())
    if not text:
        return None
    if len(text) > SAID_LIMIT:
        raise BadPrediction(f"A prediction is at most {SAID_LIMIT} characters.")
    if text.isdigit():
        number, said = int(text), ""
    else:
        names = ", ".join(FORMULA_NAMES)
        try:
            tree = parse(text)
            if "post_tags" in text:
                raise ExpectError("post_tags")
            number, said = evaluate(tree, counts), text
        except (ExpectError, ZeroDivisionError):
            raise BadPrediction(
                f"{shorten(text)} is not a count: write a whole number, or a formula with "
                f"+ - * // and the names {names} (for example 1 + posts)."
            ) from None
    if not 0 <= number <= GUESS_LIMIT:
        raise BadPrediction(f"A prediction is a count from 0 to {GUESS_LIMIT:,}.")
    return Guess(number, said)


def closeness(guess: int, actual: int) -> str:
    """ "exact", "close" (within one query, or a tenth of the count) or "off"."""
    gap = abs(guess - actual)
    if gap == 0:
        return "exact"
    return "close" if gap <= max(1, actual // 10) else "off"


@dataclass(frozen=True)
class Outcome:
    """A prediction beside the count the run measured, as the card shows it."""

    guess: int
    said: str
    actual: int
    gap_line: str

    @property
    def closeness(self) -> str:
        return closeness(self.guess, self.actual)


def outcome(guess: Guess, actual: int, snippet: Snippet, stats: DatasetStats) -> Outcome:
    return Outcome(guess.number, guess.said, actual, gap_line(guess, actual, snippet, stats))


def gap_line(guess: Guess, actual: int, snippet: Snippet, stats: DatasetStats) -> str:
    """One line on why the count is what it is, aimed at the gap between it and the guess."""
    formula = snippet.expect_for(stats.engine)
    grows = any(name in formula for name in NAMES)
    label = stats.spec.label
    if guess.number == actual:
        if grows:
            return f"Exactly: it sends {formula}, which comes to {actual:,} on {label}."
        return "Exactly: the count stays the same on every data size."
    if grows:
        if guess.number < actual:
            return (
                f"It sends {formula}: a query for each row, so the count grows with the data "
                f"({actual:,} on {label}). The gutter shows the line that fires them."
            )
        return (
            f"It sends {formula}, fewer than you guessed: only the rows it loops over cost a "
            "query each. The gutter shows the line that fires them."
        )
    if guess.number > actual:
        return (
            f"The ORM gets these rows in {actual:,} quer{'y' if actual == 1 else 'ies'}, however "
            "many there are: a join or a prefetch does not send a query per row."
        )
    return (
        f"It sends {actual:,} on every data size: each QuerySet that is evaluated, and each "
        "prefetch, is a query of its own. The gutter shows which line sends each."
    )


_FIRST = Upsert(
    Prediction,
    insert=("learner", "lesson", "snippet", "dataset", "guess", "said", "actual", "at"),
    conflict=("learner", "lesson", "snippet", "dataset"),
)


def record(
    learner: Learner, lesson: str, snippet: str, dataset: str, guess: Guess, actual: int | None
) -> None:
    """Keep the learner's first prediction for the snippet on this dataset."""
    values = (learner.pk, lesson, snippet, dataset, guess.number, guess.said, actual)

    def insert() -> None:
        _FIRST.write((*values, timezone.now()))

    write(insert)


def kept(learner: Learner | None, lesson: str, snippet: str, dataset: str) -> Prediction | None:
    if learner is None:
        return None
    return Prediction.objects.filter(
        learner=learner, lesson=lesson, snippet=snippet, dataset=dataset
    ).first()


def asks(learner: Learner | None, in_room: bool) -> bool:
    """Whether the learner's cards ask for a prediction: their own choice, else on in a room."""
    if learner is not None and learner.predict is not None:
        return learner.predict
    return in_room


def set_asking(learner: Learner, on: bool) -> None:
    def chosen() -> None:
        Learner.objects.filter(pk=learner.pk).update(predict=on)

    write(chosen)


@dataclass(frozen=True)
class Histogram:
    """The room's predictions for one snippet on one dataset, and the count it sends there."""

    snippet: str
    dataset: str
    bars: tuple[tuple[int, int], ...]  # (predicted count, learners), smallest count first
    actual: int | None  # measured by the learners' runs
    total: int

    @property
    def shown(self) -> list[tuple[str, int, bool]]:
        """(label, learners, is the measured count) per bar: every predicted count while they
        fit on a screen; else the most common ones, in order, and the rest as one bar."""
        kept = sorted(sorted(self.bars, key=lambda bar: -bar[1])[:BARS_SHOWN])
        rest = self.total - sum(n for _, n in kept)
        bars = [(f"{guess:,}", n, guess == self.actual) for guess, n in kept]
        return bars + ([("other", rest, False)] if rest else [])

    @property
    def most(self) -> int:
        return max((n for _, n in self.bars), default=0)

    @property
    def exact(self) -> int:
        return sum(n for guess, n in self.bars if guess == self.actual)


def room_predictions(room: Room, lesson: str) -> list[Histogram]:
    """Each snippet of the lesson the room predicted, per dataset, in one query."""
    rows: QuerySet[Prediction] = Prediction.objects.filter(learner__room=room, lesson=lesson)
    guesses: dict[tuple[str, str], Counter[int]] = {}
    actuals: dict[tuple[str, str], Counter[int]] = {}
    for snippet, dataset, guess, actual in rows.values_list(
        "snippet", "dataset", "guess", "actual"
    ):
        guesses.setdefault((snippet, dataset), Counter())[guess] += 1
        if actual is not None:
            actuals.setdefault((snippet, dataset), Counter())[actual] += 1
    return [
        Histogram(
            snippet,
            dataset,
            tuple(sorted(counts.items())),
            actuals[(snippet, dataset)].most_common(1)[0][0]
            if (snippet, dataset) in actuals
            else None,
            sum(counts.values()),
        )
        for (snippet, dataset), counts in sorted(guesses.items())
    ]


def reveal_key(lesson: str, snippet: str, dataset: str) -> str:
    """The room's `revealed` entry that shows a histogram's measured count on the console."""
    return f"predict:{lesson}:{snippet}:{dataset}"
