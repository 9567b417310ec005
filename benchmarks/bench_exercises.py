"""Checking exercises (lessons.measure.exercises): for every exercise, its reference solution
checked on all four datasets (tiny, the hidden check dataset, medium, large) as a learner's Check
does, with every cost it budgets and its atomic probe.

Printed:
- the median check time over all exercises (reference outputs kept, as on a warm server; target:
  at most 150 ms), the slowest (target: at most 1 s) and the slowest three, and the first check of
  each (which runs the reference too);
- what the cost model costs a run (rows counted per statement, objects watched alive, the witness
  below Django): a few snippets run in this process with it and without it, interleaved, medians
  and their ratio.

Needs the datasets seeded (`make seed`). Prints figures, never asserts them.
"""

from __future__ import annotations

import argparse
import gc
import statistics
from time import perf_counter

from _common import interleaved, print_table, setup_django

MEDIAN_TARGET = 0.150
SLOWEST_TARGET = 1.0
# Snippets whose runs build many objects or read many rows, where the cost model costs most.
PRICED = (
    ("n-plus-one", "count-comments.bad", "medium"),
    ("prefetch-related", "prefetch-comments.fixed", "large"),
    ("iterator", "stream-comments.fixed", "large"),
)


def check_times(rounds: int) -> None:
    from lessons.catalog import get_catalog
    from lessons.measure.exercises import check

    exercises = [e for lesson in get_catalog().lessons for e in lesson.exercises if e.runs_here]
    print(f"{len(exercises)} exercises this Django runs, each reference checked on every dataset")
    firsts: dict[str, float] = {}
    medians: dict[str, float] = {}
    for exercise in exercises:
        started = perf_counter()
        verdict = check(exercise, exercise.solution, learner="bench")
        firsts[exercise.id] = perf_counter() - started
        if not verdict.passed:
            print(f"  {exercise.id}: the reference does not pass its own check: {verdict.failure}")
            continue
        times = []
        for _ in range(rounds):
            started = perf_counter()
            check(exercise, exercise.solution, learner="bench")
            times.append(perf_counter() - started)
        medians[exercise.id] = statistics.median(times)
    overall, slowest = statistics.median(medians.values()), max(medians.values())
    print(f"\nMedian check time (reference kept): {overall * 1000:.0f} ms")
    first = statistics.median(firsts.values())
    print(f"First check (runs the reference too), median: {first * 1000:.0f} ms")
    print("Slowest three (median of later checks, first check):")
    for exercise_id in sorted(medians, key=medians.__getitem__, reverse=True)[:3]:
        later, first_check = medians[exercise_id] * 1000, firsts[exercise_id] * 1000
        print(f"  {exercise_id:<48} {later:7.0f} ms  {first_check:7.0f} ms")
    for name, figure, target in (
        ("median", overall, MEDIAN_TARGET),
        ("slowest", slowest, SLOWEST_TARGET),
    ):
        met = "met" if figure <= target else "NOT met"
        print(f"{name} / target = {figure / target:.2f}  ({target * 1000:.0f} ms: {met})")


def cost_model_price(rounds: int) -> None:
    from django.db import connections

    from lessons.catalog import get_catalog
    from lessons.engine.child.runner import run_code

    catalog = get_catalog()
    # As the warm process does before it forks runs: what is built so far is frozen out of the
    # collector's sight, so the collections the cost model asks for look at the run's objects.
    gc.collect()
    gc.freeze()
    for slug, snippet_id, dataset in PRICED:
        lesson = catalog.by_slug.get(slug)
        snippet = lesson.snippets.get(snippet_id) if lesson else None
        if snippet is None:
            print(f"\n{slug} {snippet_id}: no such snippet")
            continue

        def run(
            cost_model: bool,
            code: str = snippet.code,
            dataset: str = dataset,
            name: str = snippet_id,
        ) -> None:
            result = run_code(code, dataset, cost_model=cost_model)
            if result.error is not None:
                raise SystemExit(f"{name}: {result.error}")

        medians = interleaved(
            {"with the cost model": lambda: run(True), "without": lambda: run(False)}, rounds
        )
        print_table(f"{slug} {snippet_id} on {dataset}, in this process", medians, "without")
    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="checks per exercise after the first")
    parser.add_argument("--price-rounds", type=int, default=7, help="rounds per priced snippet")
    args = parser.parse_args()
    setup_django()
    check_times(args.rounds)
    cost_model_price(args.price_rounds)


if __name__ == "__main__":
    main()
