"""Checking a learner's answer to an exercise.

The learner's code and the exercise's reference solution run in the sandbox on every dataset,
the hidden check dataset included. The answer passes when, on each, the printed output equals the
reference's, the query count stays within the budget, every other cost the exercise budgets
(rows read, objects built, objects alive at once, peak memory) stays within its budget, the
atomic probe (the checker makes a write fail midway) finds nothing left behind, and the run's
count can be trusted. The verdict rests on these measurements; the rules read from the code are
only a quick first answer.

The smallest datasets go first and the check stops at the first failure, so a wrong attempt is
answered fast. The hidden dataset's output never leaves the server: a failure there is said as
such, with the difference shown on a visible dataset checked with it where there is one. The
reference's results are computed once per dataset content (the checksum the seeder writes) and
kept in memory; runs never see them, nor the solutions (the lessons are hidden from runs).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import django
from django.db import connections

from lessons import datasets, engine
from lessons.catalog import Exercise
from lessons.catalog.models import COSTS
from lessons.engine import RunError, RunResult, Task
from lessons.errors import CourseError
from lessons.measure.explain import PlanRefused, plans_of
from lessons.measure.plan_claims import judge
from lessons.measure.rules import broken_rules

# Smallest first, in batches of one worker each; a batch runs only when the ones before it
# passed on every visible dataset. Production comes last and alone: code that fails on Staging
# (reading every row, say) never runs there, where it could spend the whole CPU limit before the
# check says what is wrong.
BATCHES = (("tiny",), (datasets.CHECK.name, "medium"), ("large",))
ORDER = tuple(name for batch in BATCHES for name in batch)
PROBED = "medium"  # the dataset the atomic probe runs on
# The dataset whose plans an exercise's plan claim is checked on: the largest, where the planner
# has a reason to use an index (on a small table PostgreSQL rightly scans).
PLANNED = "large"
MB = 1024 * 1024


@dataclass(frozen=True)
class Difference:
    line: int  # 1-based line of the printed output
    expected: str | None  # None: the output ended here
    got: str | None


@dataclass(frozen=True)
class CostCheck:
    """One measured cost against its budget, and what a learner reads when it is over."""

    cost: str  # a key of COSTS, "atomic" (the probe) or "trust" (the count itself)
    measured: int
    budget: int
    message: str  # why it failed, naming the cost, after "your code"; "" when within budget
    line: int | None = None  # the snippet line most responsible, where it can be known

    @property
    def passed(self) -> bool:
        return not self.message


@dataclass(frozen=True)
class DatasetVerdict:
    dataset: str
    passed: bool
    query_count: int
    budget: int
    output_matches: bool
    first_difference: Difference | None  # never for the hidden dataset
    error: RunError | None
    # Where the queries came from when over budget: the lines and the repeated statement.
    busiest_line: int | None
    n_plus_one_sql: str | None
    costs: tuple[CostCheck, ...] = ()  # the costs the exercise budgets, checked
    usage: dict[str, int] = field(default_factory=dict)  # every cost of COSTS, as measured

    @property
    def over_budget(self) -> bool:
        return self.query_count > self.budget

    @property
    def hidden(self) -> bool:
        return self.dataset == datasets.CHECK.name

    @property
    def untrusted(self) -> CostCheck | None:
        return next((c for c in self.costs if c.cost == "trust" and not c.passed), None)

    @property
    def cost_failure(self) -> CostCheck | None:
        return next((c for c in self.costs if not c.passed), None)

    def measured(self, cost: str) -> CostCheck | None:
        return next((c for c in self.costs if c.cost == cost), None)


@dataclass(frozen=True)
class Verdict:
    exercise: Exercise
    passed: bool
    results: tuple[DatasetVerdict, ...]
    rule_broken: str | None  # the first rule the code breaks; nothing ran then

    @property
    def failure(self) -> DatasetVerdict | None:
        return next((r for r in self.results if not r.passed), None)

    @property
    def reason(self) -> str:
        """Why it failed, as a declared wrong attempt says it: "rule", "output", "budget" (the
        queries), "technique" (another cost, or the atomic probe), "trust"; "" if it passed."""
        if self.rule_broken:
            return "rule"
        failure = self.failure
        if failure is None:
            return ""
        if failure.untrusted:  # whatever else it did, its figures mean nothing
            return "trust"
        if not failure.output_matches:
            return "output"
        if failure.over_budget:
            return "budget"
        return "technique"

    @property
    def shown_difference(self) -> Difference | None:
        """The first difference of output on a visible dataset: a failure on the hidden one is
        explained by a visible one checked with it, where there is one."""
        return next((r.first_difference for r in self.results if r.first_difference), None)


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
    seeded = {name: datasets.stats(name) for name in ORDER}  # read once per check
    expected = reference_outputs(exercise, {name: s.checksum for name, s in seeded.items()})
    results: list[DatasetVerdict] = []
    for names in BATCHES:
        tasks = [Task(code, name) for name in names]
        probing = bool(exercise.atomic) and PROBED in names
        if probing:
            tasks.append(Task(code, PROBED, fail_on_write=exercise.atomic))
        runs = engine.run(tasks, learner=learner, check=True)
        probe = runs.pop() if probing else None
        for index, (name, run) in enumerate(zip(names, runs, strict=True)):
            last = index == len(names) - 1
            verdict = _judge(exercise, name, run, expected[name], seeded[name].counts, last=last)
            if probe is not None and name == PROBED:
                verdict = _with_probe(verdict, exercise, probe)
            if exercise.plan and name == PLANNED and verdict.passed:
                verdict = _with_plan(verdict, exercise, run, learner)
            results.append(verdict)
        # A failure on the hidden dataset alone goes on: a visible one can show what differs.
        if any(not r.passed and not r.hidden for r in results):
            break
    if any(not r.passed for r in results):
        return Verdict(exercise, False, _shown(results), None)
    return Verdict(exercise, True, tuple(results), None)


def _shown(results: list[DatasetVerdict]) -> tuple[DatasetVerdict, ...]:
    """Up to the first failure; past it when that one is the hidden dataset, up to the first
    visible failure, which can show the learner what differs."""
    shown = []
    for result in results:
        shown.append(result)
        if not result.passed and not result.hidden:
            break
    return tuple(shown)


_references: dict[tuple[str, str, str], dict[str, str]] = {}
_references_lock = threading.Lock()
_computing: dict[str, threading.Lock] = {}


def reference_outputs(exercise: Exercise, checksums: dict[str, str]) -> dict[str, str]:
    """The reference solution's output on every dataset (RuntimeError if it fails: a broken
    exercise, which the tests catch before any learner does), kept per dataset content: the
    `checksums` the seeder wrote, so data reseeded with the same row counts is not mistaken for
    the old."""
    seeded = repr([checksums[name] for name in ORDER])
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
    exercise: Exercise,
    name: str,
    run: RunResult,
    expected: str,
    counts: dict[str, int],
    *,
    last: bool,
) -> DatasetVerdict:
    """`last`: the job's last task, whose process's peak memory is its own (the kernel counts the
    whole process, and the datasets go smallest first)."""
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
    costs = [*_trust(run), *_costs(exercise, run, counts, last=last)]
    return DatasetVerdict(
        dataset=name,
        passed=matches and run.query_count <= budget and all(c.passed for c in costs),
        query_count=run.query_count,
        budget=budget,
        output_matches=matches,
        first_difference=None if name == datasets.CHECK.name else difference,
        error=run.error,
        busiest_line=busiest,
        n_plus_one_sql=repeated,
        costs=tuple(costs),
        usage={cost: _measured(cost, run) for cost in COSTS},
    )


def _trust(run: RunResult) -> list[CostCheck]:
    if not run.integrity:
        return []
    why = run.integrity[0]
    message = f"could not be measured, so its count cannot be trusted: {why}"
    return [CostCheck("trust", len(run.integrity), 0, message)]


def _costs(
    exercise: Exercise, run: RunResult, counts: dict[str, int], *, last: bool
) -> list[CostCheck]:
    checks = []
    for cost, budget in exercise.cost_budgets(counts).items():
        if cost == "memory_mb" and not last:
            continue
        measured = _measured(cost, run)
        message = _over(cost, measured, budget, run) if measured > budget else ""
        checks.append(CostCheck(cost, measured, budget, message, _heaviest_line(run)))
    return checks


def _measured(cost: str, run: RunResult) -> int:
    if cost == "rows":
        return run.rows_fetched
    if cost == "objects":
        return run.objects_built_total
    if cost == "alive":
        return run.objects_alive_peak
    assert cost == "memory_mb", f"every cost of {', '.join(COSTS)} is measured"
    return -(-(run.process_peak_memory or 0) // MB)


def _over(cost: str, measured: int, budget: int, run: RunResult) -> str:
    if cost == "rows":
        return (
            f"read {measured:,} rows from the database, budget {budget:,}: let the database "
            "filter and count, and fetch only the rows the answer needs"
        )
    if cost == "objects":
        model, most = max(run.objects_built.items(), key=lambda item: item[1])
        return (
            f"built {most:,} {model} objects ({measured:,} model objects in all), budget "
            f"{budget:,}: let the database count, and ask it for values, not objects"
        )
    if cost == "alive":
        return (
            f"held {measured:,} model objects at once, budget {budget:,}: stream them "
            "(iterator() with a chunk_size) instead of holding them all"
        )
    return f"peaked at {measured:,} MB of memory, budget {budget:,} MB: hold less at once"


def _heaviest_line(run: RunResult) -> int | None:
    """The snippet line whose statements read the most rows."""
    rows: Counter[int] = Counter()
    for query in run.queries:
        if query.line is not None and query.rows:
            rows[query.line] += query.rows
    return rows.most_common(1)[0][0] if rows else None


def _with_probe(verdict: DatasetVerdict, exercise: Exercise, probe: RunResult) -> DatasetVerdict:
    """The atomic probe's finding added to the verdict of the dataset it ran on."""
    found = probe.atomic
    if probe.integrity:
        checks = _trust(probe)
    elif found is None:  # the run ended before it could say
        why = probe.error.message if probe.error else "it reported nothing"
        checks = [CostCheck("atomic", 0, 0, f"could not finish the atomic probe: {why}")]
    else:
        message = ""
        if found.reached and found.rows_left:
            rows = f"{found.rows_left:,} changed row{'s' if found.rows_left != 1 else ''}"
            message = (
                f"left {rows} in {', '.join(found.tables)} when its "
                f"{_ordinal(found.fail_on_write)} write failed: make it all or nothing"
            )
        checks = [CostCheck("atomic", found.rows_left, 0, message)]
    passed = verdict.passed and all(c.passed for c in checks)
    return replace(verdict, costs=(*verdict.costs, *checks), passed=passed)


def _with_plan(
    verdict: DatasetVerdict, exercise: Exercise, run: RunResult, learner: str
) -> DatasetVerdict:
    """The plan claim checked on the learner's own statements, explained in the check lane
    (plain EXPLAIN: nothing runs again)."""
    claims = exercise.plan.for_(connections[PLANNED].vendor, PLANNED)
    if not claims:
        return verdict
    try:
        plans = plans_of(PLANNED, run.queries, learner=learner, check=True)
    except PlanRefused as exc:
        check = CostCheck("plan", 1, 0, f"could not have its plans made: {exc.message}")
    else:
        broken = judge(claims, plans)
        message = broken[0].message if broken else ""
        line = next(
            (q.line for q in run.queries if broken and q.sql == broken[0].sql and q.line), None
        )
        check = CostCheck("plan", len(broken), 0, message, line)
    passed = verdict.passed and check.passed
    return replace(verdict, costs=(*verdict.costs, check), passed=passed)


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


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
