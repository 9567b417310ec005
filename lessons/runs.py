"""One lesson snippet run on one dataset, with everything a view, the API or the terminal shows:
the measured result, the count the lesson promises, and the grouped report."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from blog import datasets
from lessons.catalog import Lesson, Snippet
from lessons.report import QueryReport, build_report
from lessons.runner import RunResult, run_snippet


@dataclass
class SnippetRun:
    lesson: Lesson
    snippet: Snippet
    stats: datasets.DatasetStats
    result: RunResult

    @property
    def expected(self) -> int:
        return self.snippet.expected_count(self.stats.counts)

    @property
    def matches(self) -> bool:
        return self.result.query_count == self.expected

    @property
    def error_expected(self) -> bool:
        """The snippet raised exactly the exception its lesson demonstrates."""
        error = self.result.error
        return error is not None and error.type == self.snippet.raises

    @property
    def duration_ms(self) -> float:
        return self.result.duration * 1000

    @functools.cached_property
    def report(self) -> QueryReport:
        return build_report(self.result.queries)

    def as_json(self) -> dict[str, Any]:
        result = self.result
        error = result.error
        return {
            "lesson": self.lesson.slug,
            "snippet": self.snippet.id,
            "dataset": self.stats.as_dict(),
            "query_count": result.query_count,
            "expected_query_count": self.expected,
            "duration_ms": round(self.duration_ms, 3),
            "objects_built": result.objects_built,
            "peak_memory_bytes": result.peak_memory,
            "queries": [
                {
                    "sql": row.query.sql,
                    "params": _jsonable(row.query.params),
                    "duration_ms": round(row.duration_ms, 3),
                    "line": row.query.line,
                    "similar": row.similar,
                    "duplicate": row.duplicate,
                }
                for row in self.report.rows
            ],
            "lines": {str(line): count for line, count in self.report.lines.items()},
            "output": result.output,
            "output_truncated_lines": result.output_dropped,
            "error": None
            if error is None
            else {"type": error.type, "message": error.message, "line": error.line},
        }


def run_lesson_snippet(lesson: Lesson, snippet: Snippet, dataset: str) -> SnippetRun:
    """Raises UnknownDataset or DatasetMissing before running anything."""
    stats = datasets.stats(dataset)  # read before capture starts, so it is never counted
    result = run_snippet(snippet.code, dataset, measure_memory=snippet.measure_memory)
    return SnippetRun(lesson, snippet, stats, result)


def _jsonable(params: Any) -> Any:
    if params is None:
        return None
    if isinstance(params, dict):
        return {key: _jsonable_value(value) for key, value in params.items()}
    return [_jsonable(p) if isinstance(p, list | tuple) else _jsonable_value(p) for p in params]


def _jsonable_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
