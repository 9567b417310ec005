"""Run one pair on every dataset, to see its cost grow (or not) with the data."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from lessons import datasets
from lessons.catalog import Lesson, Pair, Snippet
from lessons.engine import LearnerBusy
from lessons.errors import Unavailable
from lessons.measure.runs import run_pair_everywhere


@dataclass(frozen=True)
class ScalePoint:
    dataset: str
    label: str
    posts: int
    queries: int
    expected: int
    duration_ms: float
    failed: bool = False  # the run stopped on an error the lesson does not demonstrate


@dataclass(frozen=True)
class ScaleSeries:
    snippet: Snippet
    points: tuple[ScalePoint, ...]


def measure(
    lesson: Lesson, pair: Pair, *, learner: str, engine: str = datasets.ENGINES[0]
) -> list[ScaleSeries]:
    """Both sides on every data size of `engine`, in one worker. Raises DatasetMissing if any
    dataset is not seeded, Busy if the run service cannot take it now."""
    runs = iter(run_pair_everywhere(lesson, pair.snippets, learner=learner, engine=engine))
    series = []
    for snippet in pair.snippets:
        points = []
        for size, spec in datasets.SPECS.items():
            run = next(runs)
            points.append(
                ScalePoint(
                    dataset=size,
                    label=spec.label,
                    posts=run.stats.counts["posts"],
                    queries=run.result.query_count,
                    expected=run.expected,
                    duration_ms=run.duration_ms,
                    failed=run.result.error is not None and not run.error_expected,
                )
            )
        series.append(ScaleSeries(snippet, tuple(points)))
    return series


@dataclass(frozen=True)
class ScaleReport:
    """A pair measured on every dataset: the numbers behind the page's charts and table."""

    series: list[ScaleSeries]
    measured_at: datetime = field(default_factory=timezone.now)

    def series_of(self, value: str) -> list[tuple[str, str, list[tuple[float, float]]]]:
        """(side name, side, [(posts, value)]) per snippet, for a chart of `value`."""
        return [
            (
                s.snippet.side.capitalize(),
                s.snippet.side,
                [(p.posts, getattr(p, value)) for p in s.points],
            )
            for s in self.series
        ]

    @property
    def failed(self) -> bool:
        return any(point.failed for series in self.series for point in series.points)

    @property
    def just_measured(self) -> bool:
        return timezone.now() - self.measured_at < timedelta(minutes=1)

    @property
    def rows(self) -> list[dict[str, object]]:
        first = self.series[0].points
        return [
            {
                "dataset": point.dataset,
                "label": point.label,
                "posts": point.posts,
                "cells": [{"side": s.snippet.side, **vars(s.points[i])} for s in self.series],
            }
            for i, point in enumerate(first)
        ]


class MeasurementPending(Unavailable):
    """Another process is measuring this pair right now; its result will be shared."""

    retry_after = 2

    def __init__(self) -> None:
        super().__init__("This chart is being measured on every dataset. It will appear shortly.")


def stored_report(
    lesson: Lesson,
    pair: Pair,
    known: Mapping[datasets.DatasetRef, Mapping[str, int]] | None = None,
    engine: str = datasets.ENGINES[0],
) -> ScaleReport | None:
    """The shared measurement of `pair` on `engine` if one is stored for the seeded data, else
    None. `known`: seeded counts the caller has already read."""
    return _load(_stored_path(lesson, pair, known, engine), pair)


def shared_report(lesson: Lesson, pair: Pair, engine: str = datasets.ENGINES[0]) -> ScaleReport:
    """The chart a lesson draws as it loads: measured once per pair, engine and seeded data, kept
    in var/ across restarts, and measured by one process at a time (the others get
    MeasurementPending)."""
    path = _stored_path(lesson, pair, engine=engine)
    stored = _load(path, pair)
    if stored is not None:
        return stored
    try:
        report = ScaleReport(measure(lesson, pair, learner=f"shared:{path.name}", engine=engine))
    except LearnerBusy:
        raise MeasurementPending() from None
    if not report.failed:  # never share a measurement that went wrong
        _store(path, report)
    return report


def _stored_path(
    lesson: Lesson,
    pair: Pair,
    known: Mapping[datasets.DatasetRef, Mapping[str, int]] | None = None,
    engine: str = datasets.ENGINES[0],
) -> Path:
    """One file per pair, named after what the numbers depend on: the code, the seeded data and,
    off the primary engine, the engine."""
    code = "\0".join(snippet.code for snippet in pair.snippets)
    known = known or {}
    refs = datasets.DatasetRef.every_size(engine)
    seeds = [dict(known.get(ref) or ref.stats().counts) for ref in refs]
    # The primary's digest is the one it always was: files measured before stay valid.
    other = "" if engine == datasets.ENGINES[0] else engine
    digest = hashlib.sha256(f"{code}{seeds}{datasets.SEED_VERSION}{other}".encode()).hexdigest()
    digest = digest[:16]
    return Path(settings.VAR_DIR) / "scale" / f"{lesson.slug}--{pair.id}--{digest}.json"


def _load(path: Path, pair: Pair) -> ScaleReport | None:
    try:
        data = json.loads(path.read_text())
        series = [
            ScaleSeries(snippet, tuple(ScalePoint(**point) for point in points))
            for snippet, points in zip(pair.snippets, data["series"], strict=True)
        ]
        return ScaleReport(series, datetime.fromisoformat(data["measured_at"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(path: Path, report: ScaleReport) -> None:
    data = {
        "measured_at": report.measured_at.isoformat(),
        "series": [[asdict(point) for point in series.points] for series in report.series],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.replace(path)  # readers see the whole file or none of it
