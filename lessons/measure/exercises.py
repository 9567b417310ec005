"""Checking a learner's answer to an exercise.

The learner's code and the exercise's reference solution run in the sandbox on every dataset,
the hidden check dataset included. The answer passes when, on each, the printed output equals the
reference's and the query count stays within the budget. The smallest datasets go first and the
check stops at the first failure, so a wrong attempt is answered fast; the reference's results
are computed once per seeded data and kept in memory."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass

import django

from lessons import datasets, engine
from lessons.catalog import Exercise
from lessons.engine import RunError, RunResult, Task
from lessons.errors import CourseError
from lessons.measure.rules import broken_rules

# Smallest first; after the first, the rest run in one worker.
ORDER = ("tiny", datasets.CHECK.name, "medium", "large")


@dataclass(frozen=True)
class Difference:
    line: int  # 1-based line of the printed output
    expected: str | None  # None: the output ended here
    got: str | None


@dataclass(frozen=True)
class DatasetVerdict:
    dataset: str
    passed: bool
    query_count: int
    budget: int
    output_matches: bool
    first_difference: Difference | None
    error: RunError | None
    # Where the queries came from when over budget: the lines and the repeated statement.
    busiest_line: int | None
    n_plus_one_sql: str | None

    @property
    def over_budget(self) -> bool:
        return self.query_count > self.budget


@dataclass(frozen=True)
class Verdict:
    exercise: Exercise
    passed: bool
    results: tuple[DatasetVerdict, ...]
    rule_broken: str | None  # the first rule the code breaks; nothing ran then

    @property
    def failure(self) -> DatasetVerdict | None:
        return next((r for r in self.results if not r.passed), None)


# Every worker of the check lane taken (checks run there, the reference's runs too).
CheckBusy = engine.CheckLaneBusy


class ExerciseNeedsNewerDjango(CourseError):
    """The exercise uses an API this Django does not have: nothing can be checked here."""

    status = 409

    def __init__(self, exercise: Exercise) -> None:
        super().__init__(
            f"This exercise uses Django {exercise.needs_django}'s API and this server runs Django "
            f"{django.get_version()}, so it cannot check answers to it. Read the task and the "
            f"hints here; `make run-next` serves the course on Django {exercise.needs_django}, "
            "where the check runs."
        )


def check(exercise: Exercise, code: str, *, learner: str) -> Verdict:
    """CheckBusy or Busy if the run service cannot take the runs now; CodeTooLong for oversized
    code; ExerciseNeedsNewerDjango where the exercise's API is missing. Checks run in the
    service's check lane, which no other run can fill."""
    if not exercise.runs_here:
        raise ExerciseNeedsNewerDjango(exercise)
    broken = broken_rules(code, exercise.rules)
    if broken:
        return Verdict(exercise, False, (), broken[0])
    counts = {name: datasets.stats(name).counts for name in ORDER}  # read once per check
    expected = reference_outputs(exercise, counts)
    results: list[DatasetVerdict] = []
    for names in (ORDER[:1], ORDER[1:]):
        runs = engine.run([Task(code, name) for name in names], learner=learner, check=True)
        for name, run in zip(names, runs, strict=True):
            verdict = _judge(exercise, name, run, expected[name], counts[name])
            results.append(verdict)
            if not verdict.passed:
                return Verdict(exercise, False, tuple(results), None)
    return Verdict(exercise, True, tuple(results), None)


_references: dict[tuple[str, str, str], dict[str, str]] = {}
_references_lock = threading.Lock()
_computing: dict[str, threading.Lock] = {}


def reference_outputs(exercise: Exercise, counts: dict[str, dict[str, int]]) -> dict[str, str]:
    """The reference solution's output on every dataset (RuntimeError if it fails: a broken
    exercise, which the tests catch before any learner does), kept per seeded `counts`."""
    seeded = repr([counts[name] for name in ORDER])
    key = (exercise.id, hashlib.sha256(exercise.solution.encode()).hexdigest(), seeded)
    with _references_lock:
        if key in _references:
            return _references[key]
        computing = _computing.setdefault(exercise.id, threading.Lock())
    with computing:  # threads of this process asking together: one runs it, the others read it
        with _references_lock:
            if key in _references:
                return _references[key]
        outputs = _reference_outputs(exercise)
        with _references_lock:
            _references[key] = outputs
    return outputs


def _reference_outputs(exercise: Exercise) -> dict[str, str]:
    runs = _run_reference(exercise)
    outputs = {}
    for name, run in zip(ORDER, runs, strict=True):
        if run.error is not None:
            raise RuntimeError(
                f"{exercise.id}: the reference solution failed on {name}: "
                f"{run.error.type}: {run.error.message}"
            )
        outputs[name] = run.output
    return outputs


def _run_reference(exercise: Exercise) -> list[RunResult]:
    """The reference on every dataset. Learners checking the same exercise at once share one
    reference run: the others wait for it (briefly) instead of being told they are busy."""
    tasks = [Task(exercise.solution, name) for name in ORDER]
    deadline = time.monotonic() + REFERENCE_WAIT
    while True:
        try:
            return engine.run(
                tasks, learner=f"reference:{exercise.id}", course_code=True, check=True
            )
        except engine.LearnerBusy:  # another thread or server process is running it
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


REFERENCE_WAIT = 10.0  # seconds


def _judge(
    exercise: Exercise, name: str, run: RunResult, expected: str, counts: dict[str, int]
) -> DatasetVerdict:
    budget = exercise.budget_for(counts)
    difference = None if run.error else first_difference(expected, run.output)
    busiest, repeated = None, None
    if run.query_count > budget:
        lines = Counter(q.line for q in run.queries if q.line is not None)
        if lines:
            busiest = lines.most_common(1)[0][0]
        sql, times = Counter(q.sql for q in run.queries).most_common(1)[0]
        repeated = sql if times > 1 else None
    matches = run.error is None and difference is None
    return DatasetVerdict(
        dataset=name,
        passed=matches and run.query_count <= budget,
        query_count=run.query_count,
        budget=budget,
        output_matches=matches,
        first_difference=difference,
        error=run.error,
        busiest_line=busiest,
        n_plus_one_sql=repeated,
    )


def first_difference(expected: str, got: str) -> Difference | None:
    """The first line where two outputs differ (trailing spaces aside), or None if they agree."""
    want = [line.rstrip() for line in expected.rstrip().splitlines()]
    have = [line.rstrip() for line in got.rstrip().splitlines()]
    for number in range(max(len(want), len(have))):
        a = want[number] if number < len(want) else None
        b = have[number] if number < len(have) else None
        if a != b:
            return Difference(number + 1, a, b)
    return None
