"""Runs on one dataset: a lesson snippet held against the count its lesson promises, or a
learner's own code (an edited snippet, the playground), which promises nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import django

from lessons import datasets
from lessons.catalog import Lesson, Snippet
from lessons.engine import RunError, RunResult, Task, run


@dataclass
class SnippetRun:
    lesson: Lesson
    snippet: Snippet
    stats: datasets.DatasetStats
    result: RunResult
    edited = False

    @property
    def code(self) -> str:
        return self.snippet.code

    @property
    def panel_id(self) -> str:
        return self.snippet.id

    @property
    def label(self) -> str:
        return self.snippet.title or self.snippet.id

    @property
    def expected(self) -> int:
        return self.stats.expected_count(self.snippet)

    @property
    def ran(self) -> bool:
        """False for a snippet written for a newer Django, or for the other engine."""
        return self.snippet.runs_on(self.stats.engine)

    @property
    def measured_on(self) -> str:
        """Where a snippet that did not run here was measured (its expect holds there)."""
        if not self.snippet.runs_here:
            return f"Django {self.snippet.needs_django}"
        return datasets.ENGINE_LABELS.get(self.snippet.engine, self.snippet.engine)

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

    @property
    def shared_with(self) -> int:
        """How many learners this one execution served so far, when it served others too (0 when
        it ran for this press alone)."""
        shared = self.result.shared
        return shared.learners if shared is not None and shared.with_others else 0

    @property
    def ran_at(self) -> datetime | None:
        """When the shared execution ended, as the server's time zone reads it."""
        shared = self.result.shared
        return datetime.fromtimestamp(shared.ran_at, UTC) if shared is not None else None


@dataclass
class CodeRun:
    """A learner's own code, run with the learner limits. When it is an edit of a lesson's
    snippet, `snippet` says which: the panel shows it there, but the promise was for the
    lesson's code, so nothing is compared with it."""

    stats: datasets.DatasetStats
    result: RunResult
    code: str
    lesson: Lesson | None = None
    snippet: Snippet | None = None
    edited = True
    expected = None
    matches = None
    error_expected = False
    shared_with = 0  # a learner's own code always runs on its own

    @property
    def panel_id(self) -> str:
        return self.snippet.id if self.snippet else "playground"

    @property
    def label(self) -> str:
        if self.snippet is None:
            return "Your code"
        return f"{self.snippet.title or self.snippet.id} (edited)"

    @property
    def duration_ms(self) -> float:
        return self.result.duration * 1000

    @property
    def unparsed(self) -> bool:
        """Python could not read the code: nothing of it ran, so there is nothing to count."""
        error = self.result.error
        return error is not None and error.type in UNPARSED


# What compile() raises for code that cannot be read at all.
UNPARSED = frozenset({"SyntaxError", "IndentationError", "TabError"})


def is_edit(snippet: Snippet, code: str) -> bool:
    """Whether `code` differs from the snippet's own (line endings and trailing space aside)."""
    return _normalised(code) != _normalised(snippet.code)


def _normalised(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.replace("\r\n", "\n").split("\n")).strip()


def run_learner_code(
    code: str,
    dataset: datasets.DatasetRef,
    *,
    learner: str,
    lesson: Lesson | None = None,
    snippet: Snippet | None = None,
) -> CodeRun:
    """Run a learner's code through the run service, with the learner limits. Raises
    UnknownDataset or DatasetMissing before running, CodeTooLong or Busy from the service."""
    stats = dataset.stats()
    [result] = run([Task(code, dataset.alias)], learner=learner, in_line=True)
    return CodeRun(stats, result, code, lesson, snippet)


def run_lesson_snippet(
    lesson: Lesson, snippet: Snippet, dataset: datasets.DatasetRef, *, learner: str = "course"
) -> SnippetRun:
    """Run a course snippet through the run service, sharing the execution with identical presses
    from other learners (the same code on the same data). Raises UnknownDataset or DatasetMissing
    before running anything, and Busy when the service cannot take it now."""
    stats = dataset.stats()
    if not snippet.runs_on(stats.engine):
        return SnippetRun(lesson, snippet, stats, not_run_here(snippet, stats))
    [result] = run(
        [Task(snippet.code, dataset.alias, snippet.measure_memory)],
        learner=learner,
        course_code=True,
        share=stats.checksum,
        in_line=True,
    )
    return SnippetRun(lesson, snippet, stats, result)


def not_run_here(snippet: Snippet, stats: datasets.DatasetStats) -> RunResult:
    """The result of a snippet written for a newer Django or for the other engine: nothing ran,
    and the error says why (its expect is the count measured where it runs)."""
    if not snippet.runs_here:
        message = (
            f"this snippet uses Django {snippet.needs_django}'s API and the course runs on Django "
            f"{django.get_version()}: nothing ran. The lesson's count was measured on "
            f"{snippet.needs_django} (make run-next)."
        )
        return RunResult(stats.name, error=RunError("NeedsNewerDjango", message, None))
    engine = datasets.ENGINE_LABELS.get(snippet.engine, snippet.engine)
    message = (
        f"this snippet uses {engine}'s own features and this dataset is on "
        f"{stats.engine_label}: nothing ran. The lesson's count was measured on {engine} "
        f"(make run-pg)."
    )
    return RunResult(stats.name, error=RunError("NeedsOtherEngine", message, None))


def run_pair_everywhere(
    lesson: Lesson,
    snippets: tuple[Snippet, ...],
    *,
    learner: str,
    engine: str = datasets.ENGINES[0],
) -> list[SnippetRun]:
    """Every snippet on every data size of `engine`, in one worker: the numbers behind a scale
    chart."""
    stats = {ref: ref.stats() for ref in datasets.DatasetRef.every_size(engine)}  # fail first
    pairs = [(snippet, ref) for snippet in snippets for ref in stats]
    tasks = [
        Task(snippet.code, ref.alias, snippet.measure_memory)
        for snippet, ref in pairs
        if snippet.runs_on(stats[ref].engine)
    ]
    content = ",".join(stats[ref].checksum for ref in stats)
    ran = iter(run(tasks, learner=learner, course_code=True, share=content) if tasks else [])
    results = [
        next(ran) if snippet.runs_on(stats[ref].engine) else not_run_here(snippet, stats[ref])
        for snippet, ref in pairs
    ]
    return [
        SnippetRun(lesson, snippet, stats[ref], result)
        for (snippet, ref), result in zip(pairs, results, strict=True)
    ]
