"""Run one pair on every dataset, to see its cost grow (or not) with the data."""

from __future__ import annotations

from dataclasses import dataclass

from blog import datasets
from lessons.catalog import Lesson, Pair, Snippet
from lessons.charts import Chart, log_log_chart
from lessons.runs import run_lesson_snippet


@dataclass(frozen=True)
class ScalePoint:
    dataset: str
    label: str
    posts: int
    queries: int
    expected: int
    duration_ms: float


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
                )
            )
        series.append(ScaleSeries(snippet, tuple(points)))
    return series


@dataclass(frozen=True)
class ScaleReport:
    """What the page shows: charts of queries and time against posts, and the table behind them."""

    series: list[ScaleSeries]

    @property
    def charts(self) -> list[Chart]:
        def lines(value: str) -> list[tuple[str, str, list[tuple[float, float]]]]:
            return [
                (
                    s.snippet.side.capitalize(),
                    s.snippet.side,
                    [(p.posts, getattr(p, value)) for p in s.points],
                )
                for s in self.series
            ]

        return [
            log_log_chart("Queries per run", "posts", "queries", lines("queries"), floor=1),
            log_log_chart("Time per run", "posts", "ms", lines("duration_ms")),
        ]

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
