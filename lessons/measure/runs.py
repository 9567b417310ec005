"""One lesson snippet run on one dataset, held against the count its lesson promises."""

from __future__ import annotations

from dataclasses import dataclass

from blog import datasets
from lessons.catalog import Lesson, Snippet
from lessons.engine.runner import RunResult, run_code


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


def run_lesson_snippet(lesson: Lesson, snippet: Snippet, dataset: str) -> SnippetRun:
    """Raises UnknownDataset or DatasetMissing before running anything."""
    stats = datasets.stats(dataset)  # read before capture starts, so it is never counted
    result = run_code(snippet.code, dataset, measure_memory=snippet.measure_memory)
    return SnippetRun(lesson, snippet, stats, result)
