"""The price of the run service (lessons.engine.service), measured side by side in one run:

- submit to first statement of a trivial snippet on tiny: the wall-clock time from just before
  service.run to the snippet's first SQL statement in the worker (target: median at most 30 ms);
- the n-plus-one bad snippet on large (5,001 queries) through the service, in a worker process
  forked for the run, against the same snippet run by lessons.engine.child.runner in this process
  (bare Django plus the course's capture, no fork): interleaved rounds, medians, the ratio
  (target: at most 1.25);
- what each of the kernel's walls (lessons.engine.child.confine) adds to the first figure: no
  walls, each wall alone, all of them.

Needs the datasets seeded (`make seed`). Prints figures, never asserts them.

Each run's process is forked from the service's warm process, a program of the engine's own
(`python -m lessons.engine.child`): neither it nor a run imports this script, so the figures are
those a server under gunicorn gets.
"""

from __future__ import annotations

import argparse
import statistics
import time
from time import perf_counter

from _common import interleaved, print_table, setup_django

LESSON, SNIPPET, DATASET = "n-plus-one", "count-comments.bad", "large"
TRIVIAL, TRIVIAL_DATASET = "print(Post.objects.count())", "tiny"
RATIO_TARGET = 1.25
FIRST_STATEMENT_TARGET_MS = 30.0


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil without math
    return ordered[int(rank) - 1]


def service_versus_in_process(rounds: int) -> None:
    from lessons import datasets
    from lessons.catalog import get_catalog
    from lessons.engine.child.runner import run_code
    from lessons.measure.runs import run_lesson_snippet

    lesson = get_catalog().by_slug[LESSON]
    snippet = lesson.snippets[SNIPPET]
    dataset = datasets.DatasetRef(DATASET)
    expected = dataset.stats().expected_count(snippet)

    def check(query_count: int, error: object, where: str) -> None:
        if error is not None or query_count != expected:
            raise SystemExit(f"{where}: {query_count:,} queries (expected {expected:,}), {error}")

    def through_service() -> None:
        run = run_lesson_snippet(lesson, snippet, dataset, learner="bench-service")
        check(run.result.query_count, run.result.error, "service")

    def in_process() -> None:
        result = run_code(snippet.code, DATASET)
        check(result.query_count, result.error, "in process")

    print(
        f"{LESSON} / {SNIPPET} on {DATASET}: {expected:,} queries, "
        f"median of {rounds} interleaved rounds (one untimed warm-up each)"
    )
    medians = interleaved(
        {"in process (runner.run_code)": in_process, "through the service": through_service},
        rounds,
    )
    print_table("Time per run, submit to result", medians, "in process (runner.run_code)")
    ratio = medians["through the service"] / medians["in process (runner.run_code)"]
    verdict = "met" if ratio <= RATIO_TARGET else "NOT met"
    print(f"\n  service / in process = {ratio:.2f}   (target at most {RATIO_TARGET}: {verdict})")


def submit_to_first_statement(runs: int) -> None:
    from lessons import engine
    from lessons.engine import Task

    task = Task(TRIVIAL, TRIVIAL_DATASET)
    started = perf_counter()
    [first] = engine.run([task], learner="bench-first-statement")  # may start the warm process
    cold_ms = (perf_counter() - started) * 1000
    if first.error is not None:
        raise SystemExit(f"the trivial snippet failed: {first.error}")

    to_first: list[float] = []
    round_trip: list[float] = []
    for _ in range(runs):
        submitted = time.time()
        [result] = engine.run([task], learner="bench-first-statement")
        returned = time.time()
        if result.error is not None or result.first_statement_at is None:
            raise SystemExit(f"the trivial snippet failed: {result.error}")
        to_first.append((result.first_statement_at - submitted) * 1000)
        round_trip.append((returned - submitted) * 1000)

    median = statistics.median(to_first)
    verdict = "met" if median <= FIRST_STATEMENT_TARGET_MS else "NOT met"
    print(f"Submit to first statement: {TRIVIAL!r} on {TRIVIAL_DATASET}, {runs} runs")
    print(f"  first run of this process (warm process start): {cold_ms:8.1f} ms, not counted")
    print(
        f"  to first statement   median {median:6.1f} ms   p95 {percentile(to_first, 0.95):6.1f} ms"
        f"   min {min(to_first):6.1f}   max {max(to_first):6.1f}"
    )
    print(
        f"  to result returned   median {statistics.median(round_trip):6.1f} ms"
        f"   p95 {percentile(round_trip, 0.95):6.1f} ms"
    )
    print(
        f"  median / target = {median / FIRST_STATEMENT_TARGET_MS:.2f}   "
        f"(target median at most {FIRST_STATEMENT_TARGET_MS:.0f} ms: {verdict})"
    )


def first_statement_median(runs: int) -> float:
    from lessons import engine
    from lessons.engine import Task

    task = Task(TRIVIAL, TRIVIAL_DATASET)
    engine.run([task], learner="bench-walls")  # starts the warm process: not counted
    times = []
    for _ in range(runs):
        submitted = time.time()
        [result] = engine.run([task], learner="bench-walls")
        if result.error is not None or result.first_statement_at is None:
            raise SystemExit(f"the trivial snippet failed: {result.error}")
        times.append((result.first_statement_at - submitted) * 1000)
    return statistics.median(times)


def cost_of_each_wall(runs: int, rounds: int) -> None:
    """Submit to first statement with no wall, each wall alone, and all of them: the warm
    process reads COURSE_RUN_WALLS as it starts, so it is started again for each set, and the
    sets take turns over several rounds."""
    import os

    from lessons import engine

    every = engine.walls(engine.WALLS)
    built = [name for name in engine.WALLS if name in every.built]
    sets = {"no walls": "", **{name: name for name in built}, "all walls": ",".join(built)}
    previous = os.environ.get("COURSE_RUN_WALLS")
    medians: dict[str, list[float]] = {name: [] for name in sets}
    try:
        for _ in range(rounds):
            for name, walls in sets.items():
                os.environ["COURSE_RUN_WALLS"] = walls
                engine.restart()
                medians[name].append(first_statement_median(runs))
    finally:
        if previous is None:
            os.environ.pop("COURSE_RUN_WALLS", None)
        else:
            os.environ["COURSE_RUN_WALLS"] = previous
        engine.restart()
    base = statistics.median(medians["no walls"])
    print(f"What each wall costs: submit to first statement, median of {rounds} rounds of {runs}")
    for name, values in medians.items():
        value = statistics.median(values)
        extra = "" if name == "no walls" else f"   {value - base:+6.1f} ms over no walls"
        print(f"  {name:<12} {value:7.1f} ms   {value / base:5.2f}x{extra}")
    for line in every.lines:
        if not line.endswith(": on"):
            print(f"  not built here: {line}")


def main() -> None:
    setup_django()
    from django.db import connections

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds on large")
    parser.add_argument("--runs", type=int, default=50, help="trivial runs for first statement")
    parser.add_argument("--wall-runs", type=int, default=15, help="runs per wall set and round")
    args = parser.parse_args()
    submit_to_first_statement(args.runs)  # first, so that its first run starts the warm process
    print()
    service_versus_in_process(args.rounds)
    print()
    cost_of_each_wall(args.wall_runs, rounds=3)
    connections.close_all()


if __name__ == "__main__":
    main()
