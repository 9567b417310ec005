"""What the lesson page draws, assembled from the catalog, runs, measurements and progress."""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.safestring import SafeString

from lessons import datasets
from lessons.catalog import Exercise, Lesson, Pair, Prose, Snippet, get_catalog
from lessons.display.charts import Chart, log_log_chart
from lessons.display.prose import render_markdown
from lessons.display.report import QueryReport, build_report, gutter
from lessons.engine import RunResult
from lessons.learner.predictions import FORMULA_NAMES, Outcome, asks
from lessons.learner.progress import Progress
from lessons.learner.quiz import quiz_context
from lessons.measure.runs import CodeRun, SnippetRun
from lessons.measure.scale import ScaleReport, stored_report

# The reports of the latest runs a room shared, by execution: everyone it served sees the same
# statements, so the gutter's counts and the flagged groups are worked out once for all of them.
_shared_reports: OrderedDict[str, QueryReport] = OrderedDict()
_shared_reports_lock = threading.Lock()
_SHARED_REPORTS_KEPT = 64


def report_of(result: RunResult) -> QueryReport:
    """The report of a run's statements (read-only: it may be another learner's too)."""
    execution = result.shared.run if result.shared else ""
    if not execution:
        return build_report(result.queries)
    with _shared_reports_lock:
        kept = _shared_reports.get(execution)
    if kept is None:
        kept = build_report(result.queries)
        with _shared_reports_lock:
            _shared_reports[execution] = kept
            while len(_shared_reports) > _SHARED_REPORTS_KEPT:
                _shared_reports.popitem(last=False)
    return kept


@dataclass
class Card:
    """A snippet as the lesson page shows it, with its run panel when it has been run."""

    snippet: Snippet
    expected: int | None
    run: SnippetRun | CodeRun | None = None
    # Ask for a prediction before the run: the row counts a formula may name, on this data.
    predict: tuple[tuple[str, int], ...] = ()
    outcome: Outcome | None = None  # the prediction beside what the run measured

    @classmethod
    def on(
        cls,
        snippet: Snippet,
        stats: datasets.DatasetStats | None,
        run: SnippetRun | CodeRun | None = None,
        *,
        predict: bool = False,
        outcome: Outcome | None = None,
    ) -> Card:
        """`snippet` promising its lesson's count on the data `stats` describes (no count when
        the dataset cannot be read); `predict`: asking for a prediction first."""
        names = (
            tuple((name, stats.counts.get(name, 0)) for name in FORMULA_NAMES)
            if predict and stats and run is None
            else ()
        )
        return cls(snippet, stats.expected_count(snippet) if stats else None, run, names, outcome)

    @property
    def dom_id(self) -> str:
        return "card-" + self.snippet.id.replace(".", "-")

    @property
    def edited(self) -> bool:
        return bool(self.run and self.run.edited)

    @property
    def code(self) -> str:
        """The code the card shows: the learner's edit once it has run, else the lesson's."""
        return self.run.code if self.run else self.snippet.code

    @functools.cached_property
    def report(self) -> QueryReport | None:
        return report_of(self.run.result) if self.run else None

    @property
    def lines(self) -> Iterable[tuple[int, SafeString, int]]:
        return gutter(self.code, self.report.lines if self.report else {})

    @property
    def error_line(self) -> int | None:
        error = self.run.result.error if self.run else None
        return error.line if error else None


@dataclass
class ScaleView:
    report: ScaleReport

    @property
    def charts(self) -> list[Chart]:
        return [
            log_log_chart(
                "Queries per run", "posts", "queries", self.report.series_of("queries"), floor=1
            ),
            log_log_chart("Time per run", "posts", "ms", self.report.series_of("duration_ms")),
        ]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.report, name)  # series, rows, measured_at, just_measured


@dataclass
class PairView:
    """A pair as the lesson page shows it: its cards and, once measured, its scale chart."""

    pair: Pair
    cards: list[Card]
    scale: ScaleView | None
    autoload: bool  # draw the scale chart as soon as the page loads
    unmeasurable: str = ""  # why this server cannot measure the pair on every data size, if not


@dataclass(frozen=True)
class ProseView:
    html: SafeString


def prose_view(block: Prose) -> ProseView:
    return ProseView(render_markdown(block.source))


@dataclass
class ExerciseView:
    """An exercise as the lesson page shows it: task and learner state, never the solution."""

    exercise: Exercise
    state: dict[str, Any]  # Progress.exercise(): checks, failed, solved, revealed

    @property
    def task_html(self) -> SafeString:
        return render_markdown(self.exercise.task)

    @property
    def dom_id(self) -> str:
        return "exercise-" + self.exercise.id.replace(".", "-")


def unmeasurable(pair: Pair, engine: str) -> str:
    """Why this server cannot run `pair` on every data size ("" when it can)."""
    if not pair.runs_here:
        return "a newer Django than this server runs"
    if not pair.runs_on(engine):
        needed = {s.engine for s in pair.snippets if s.engine} - {engine}
        return " and ".join(datasets.ENGINE_LABELS[name] for name in sorted(needed))
    return ""


def engine_choices() -> list[tuple[str, str]]:
    """The engines a page offers to switch between: none when only one is configured."""
    if len(datasets.ENGINES) < 2:
        return []
    return [(name, datasets.ENGINE_LABELS.get(name, name)) for name in datasets.ENGINES]


class Lazy:
    """A list made the first time it is iterated: a template resolving the name of a function
    calls it at once, even for a fragment it then does not draw."""

    def __init__(self, make: Callable[[], list[Any]]) -> None:
        self._make = make

    @functools.cached_property
    def items(self) -> list[Any]:
        return self._make()

    def __iter__(self) -> Iterator[Any]:
        return iter(self.items)


def blocks_key(
    lesson: Lesson, dataset: datasets.DatasetRef, stats: datasets.DatasetStats | None
) -> str:
    """What a lesson's prose and pairs, as drawn before any run, depend on besides the catalog:
    the data (its size, engine and content), the charts stored for it (the folder changes as one
    is stored) and the minute (a chart says how long ago it was measured)."""
    checksum = stats.checksum if stats else "missing"
    try:
        charts = (Path(settings.VAR_DIR) / "scale").stat().st_mtime_ns
    except OSError:
        charts = 0
    minute = int(time.time() // 60)
    # id(): a catalog loaded again (a test that changes a lesson) is another lesson.
    return (
        f"{lesson.slug}:{id(lesson)}|{dataset.size}|{dataset.engine}|{checksum}|{charts}|{minute}"
    )


def exercises_key(lesson: Lesson, exercises: list[ExerciseView]) -> str:
    """What a lesson's exercises section draws besides the catalog and the server's settings:
    how far the learner got with each (most learners of a room: equally far)."""
    states = ",".join(f"{v.state['solved']:d}{v.state['checks']}" for v in exercises)
    return f"{lesson.slug}:{id(lesson)}|{states}"


def asking(progress: Progress) -> bool:
    """Whether this learner's cards ask for a prediction before a snippet's first run."""
    return asks(progress.learner, settings.COURSE_ROOM)


def _predict_key(predicted: set[str] | None) -> str:
    """What the cards' prediction forms depend on: which snippets still ask for one."""
    return "|no-predict" if predicted is None else "|predict:" + ",".join(sorted(predicted))


def lesson_context(
    progress: Progress,
    lesson: Lesson,
    dataset: datasets.DatasetRef,
    snippet_run: SnippetRun | CodeRun | None = None,
    scale: tuple[Pair, ScaleReport] | None = None,
    outcome: Outcome | None = None,
    voting: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The lesson page on `dataset` (its data size on its engine); `outcome`: how the
    prediction before `snippet_run` came out; `voting`: the room's vote rounds open on its quiz."""
    catalog = get_catalog()
    stats, missing = dataset.stats_or_problem()  # the page's notice names the cause
    predicted = progress.predicted(lesson, dataset.size) if asking(progress) else None

    def card(snippet: Snippet) -> Card:
        run = snippet_run if snippet_run and snippet_run.snippet == snippet else None
        ask = predicted is not None and snippet.id not in predicted
        return Card.on(snippet, stats, run, predict=ask, outcome=outcome if run else None)

    def scale_view(pair: Pair) -> ScaleView | None:
        if scale and scale[0] == pair:
            return ScaleView(scale[1])
        # The lesson's own chart is drawn in the page when a shared measurement is stored
        # (without JavaScript too); otherwise the page asks for it as it loads.
        if pair.id != lesson.chart or stats is None:
            return None
        stored = stored_report(lesson, pair, {dataset: stats.counts}, dataset.engine)
        return ScaleView(stored) if stored else None

    def blocks() -> list[PairView | ProseView]:
        return [
            PairView(
                block,
                [card(s) for s in block.snippets],
                scale_view(block),
                autoload=block.id == lesson.chart,
                unmeasurable=unmeasurable(block, dataset.engine),
            )
            if isinstance(block, Pair)
            else prose_view(block)
            for block in lesson.blocks
        ]

    previous, following = catalog.neighbours(lesson)
    exercises = [ExerciseView(e, progress.exercise(e.id)) for e in lesson.exercises]
    return {
        **quiz_context(lesson.slug, list(lesson.quiz), progress, voting),
        "answer_url": reverse("lessons:quiz-answer", args=[lesson.slug]),
        "lesson_progress": progress.for_lesson(lesson),
        "lesson": lesson,
        "part": next(p for p in catalog.parts if p.number == lesson.part),
        # Worked out only when drawn: a page whose blocks were drawn for another learner on the
        # same data (`blocks_key`) reads no chart and builds no card.
        "blocks": Lazy(blocks),
        "blocks_key": ""
        if snippet_run or scale
        else blocks_key(lesson, dataset, stats) + _predict_key(predicted),
        "asking": predicted is not None,
        "dataset": dataset.size,
        "datasets": list(datasets.SPECS.values()),
        "engine": dataset.engine,
        # The engine switch, where more than one engine is configured: (engine, label) pairs.
        "engines": engine_choices(),
        "dataset_missing": missing,
        "previous": previous,
        "next": following,
        "exercises": exercises,
        "exercises_key": exercises_key(lesson, exercises),
    }
