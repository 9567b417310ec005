"""Run one pair on every dataset, to see its cost grow (or not) with the data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.utils import timezone

from blog import datasets
from lessons.catalog import Lesson, Pair, Snippet
from lessons.measure.runs import run_lesson_snippet


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


def measure(lesson: Lesson, pair: Pair) -> list[ScaleSeries]:
    """Raises DatasetMissing if any dataset is not seeded."""
    for name in datasets.SPECS:
        datasets.stats(name)  # fail before spending time on the others
    series = []
    for snippet in pair.snippets:
        points = []
        for name, spec in datasets.SPECS.items():
            run = run_lesson_snippet(lesson, snippet, name)
            points.append(
                ScalePoint(
                    dataset=name,
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


SHARED_FOR = 300  # seconds a page-load measurement is shared between learners


def shared_report(lesson: Lesson, pair: Pair) -> ScaleReport:
    """The chart a lesson draws as it loads: measured at most every few minutes per server
    process, so a room opening the page at once does not run every dataset fifty times."""
    key = f"scale:{lesson.slug}:{pair.id}:{datasets.SEED_VERSION}"
    report: ScaleReport | None = cache.get(key)
    if report is None:
        report = ScaleReport(measure(lesson, pair))
        if not report.failed:  # never share a measurement that went wrong
            cache.set(key, report, SHARED_FOR)
    return report
