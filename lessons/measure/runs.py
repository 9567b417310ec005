"""One lesson snippet run on one dataset, held against the count its lesson promises."""

from __future__ import annotations

from dataclasses import dataclass

from blog import datasets
from lessons.catalog import Lesson, Snippet
from lessons.engine import service
from lessons.engine.runner import RunResult
from lessons.engine.sandbox import Task


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


def run_lesson_snippet(
    lesson: Lesson, snippet: Snippet, dataset: str, *, learner: str = "course"
) -> SnippetRun:
    """Run a course snippet through the run service. Raises UnknownDataset or DatasetMissing
    before running anything, and Busy when the service cannot take it now."""
    stats = datasets.stats(dataset)
    [result] = service.run(
        [Task(snippet.code, dataset, snippet.measure_memory)], learner=learner, course_code=True
    )
    return SnippetRun(lesson, snippet, stats, result)


def run_pair_everywhere(
    lesson: Lesson, snippets: tuple[Snippet, ...], *, learner: str
) -> list[SnippetRun]:
    """Every snippet on every dataset, in one worker: the numbers behind a scale chart."""
    stats = {name: datasets.stats(name) for name in datasets.SPECS}  # fail before running
    tasks = [
        Task(snippet.code, name, snippet.measure_memory)
        for snippet in snippets
        for name in datasets.SPECS
    ]
    results = service.run(tasks, learner=learner, course_code=True)
    pairs = [(snippet, name) for snippet in snippets for name in datasets.SPECS]
    return [
        SnippetRun(lesson, snippet, stats[name], result)
        for (snippet, name), result in zip(pairs, results, strict=True)
    ]
