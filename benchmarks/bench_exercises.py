"""Checking exercises (lessons.measure.exercises): for every exercise, a correct solution checked
on all four datasets (tiny, the hidden check dataset, medium, large), as a learner's Check does.

Printed: the time of the first check of each exercise (which also runs the reference solution
once and keeps its output), the median of the next checks (reference kept), the median over all
exercises, and the slowest three, beside the issue's target (a correct solution answered within
2 s).

Needs the datasets seeded (`make seed`). Prints figures, never asserts them. Django and the course
are imported in main(): each run is forked from the service's warm process, which re-imports the
submitting script's top level.
"""

from __future__ import annotations

import argparse
import statistics
from time import perf_counter

from _common import setup_django

TARGET_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="checks per exercise after the first")
    args = parser.parse_args()
    setup_django()
    from lessons.catalog import get_catalog
    from lessons.measure.exercises import check

    exercises = [e for lesson in get_catalog().lessons for e in lesson.exercises]
    print(f"{len(exercises)} exercises, a correct solution checked on tiny, check, medium, large")
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
        for _ in range(args.rounds):
            started = perf_counter()
            check(exercise, exercise.solution, learner="bench")
            times.append(perf_counter() - started)
        medians[exercise.id] = statistics.median(times)

    overall = statistics.median(medians.values())
    print(f"\nMedian check time per exercise (reference kept): {overall * 1000:.0f} ms")
    first = statistics.median(firsts.values())
    print(f"First check (runs the reference too), median: {first * 1000:.0f} ms")
    print("Slowest three (median of later checks, first check):")
    for exercise_id in sorted(medians, key=medians.__getitem__, reverse=True)[:3]:
        later, first_check = medians[exercise_id], firsts[exercise_id]
        print(f"  {exercise_id:<48} {later * 1000:7.0f} ms  {first_check * 1000:7.0f} ms")
    slowest = max(medians.values())
    verdict = "met" if slowest <= TARGET_SECONDS else "NOT met"
    print(
        f"\nSlowest / target = {slowest / TARGET_SECONDS:.2f}   "
        f"(every correct solution answered within {TARGET_SECONDS:g} s: {verdict})"
    )


if __name__ == "__main__":
    main()
