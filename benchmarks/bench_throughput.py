"""How many learner runs a second the run service gets through on medium, against the same code
run in this process, and where one run's time goes.

Learner code is never shared (lessons.engine.sharing), and every run here is distinct anyway (a
comment numbers it). Measured side by side: timed blocks take turns, in process then through the
service, and each figure is the median of its blocks.

- in process: lessons.engine.child.runner.run_code, one after another (bare Django plus the
  course's capture: no fork, no walls), on one core;
- through the service: as many threads as the pool has workers, each submitting runs as a
  learner of its own, as a room's edited runs arrive: every run in a worker forked for it,
  walled in, its reply checked.

Then the split of one run (RunResult.phases, the service's own account), the median of each step
over the service's runs, and the web side of one: the panel drawn from the result.

Needs the datasets seeded (`make seed`). Prints figures, never asserts them.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections import defaultdict
from itertools import count

from _common import setup_django

DATASET, LESSON, SNIPPET = "medium", "n-plus-one", "count-comments.bad"


def main() -> None:
    setup_django()
    from django.db import connections
    from django.template.loader import render_to_string

    from lessons import datasets, engine
    from lessons.catalog import get_catalog
    from lessons.display.report import build_report
    from lessons.engine import Task
    from lessons.engine.child.runner import run_code
    from lessons.engine.service import PHASES
    from lessons.measure.runs import CodeRun

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks of each, taking turns")
    args = parser.parse_args()

    base = get_catalog().by_slug[LESSON].snippets[SNIPPET].code
    numbers = count()
    config = engine.Config.from_settings()
    threads = config.workers

    def code() -> str:
        return f"# learner run {next(numbers)}\n{base}"

    def in_process(seconds: float) -> float:
        done, deadline = 0, time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < deadline:
            result = run_code(code(), DATASET)
            if result.error is not None:
                raise SystemExit(f"in process: {result.error}")
            done += 1
        return done / (time.perf_counter() - started)

    phases: dict[str, list[float]] = defaultdict(list)
    results: list[engine.RunResult] = []

    def through_service(seconds: float) -> float:
        done = [0] * threads
        deadline = time.perf_counter() + seconds

        def learner(index: int) -> None:
            while time.perf_counter() < deadline:
                [result] = engine.run([Task(code(), DATASET)], learner=f"bench-throughput-{index}")
                if result.error is not None:
                    raise SystemExit(f"through the service: {result.error}")
                done[index] += 1
                results.append(result)
                for name, value in result.phases.items():
                    phases[name].append(value)
            connections.close_all()

        started = time.perf_counter()
        workers = [threading.Thread(target=learner, args=(i,)) for i in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return sum(done) / (time.perf_counter() - started)

    through_service(1.0)  # the warm process starts, the templates are made: not counted
    in_process(1.0)
    phases.clear()
    results.clear()
    rates: dict[str, list[float]] = {"in process": [], "through the service": []}
    for _ in range(args.rounds):
        rates["in process"].append(in_process(args.seconds))
        rates["through the service"].append(through_service(args.seconds))

    expected = (
        datasets.DatasetRef(DATASET)
        .stats()
        .expected_count(get_catalog().by_slug[LESSON].snippets[SNIPPET])
    )
    print(
        f"Learner code on {DATASET}: {LESSON} {SNIPPET} ({expected} queries), each run distinct; "
        f"{args.rounds} blocks of {args.seconds:g} s each, taking turns; {threads} workers"
    )
    medians = {name: statistics.median(values) for name, values in rates.items()}
    for name, rate in medians.items():
        spread = ", ".join(f"{v:.1f}" for v in rates[name])
        print(f"  {name:<22} {rate:7.1f} runs/s   (blocks: {spread})")
    ratio = medians["through the service"] / medians["in process"]
    print(f"  service / in process = {ratio:.2f}  (in process uses one core; the service all)")

    print(f"\nWhere one run's time goes (median of {len(results)} runs through the service)")
    steps = {name: statistics.median(phases[name]) for name in PHASES if phases.get(name)}
    sample = results[len(results) // 2]
    stats = datasets.DatasetRef(DATASET).stats()
    run = CodeRun(stats, sample, base)
    drawn: list[float] = []
    for _ in range(20):
        started = time.perf_counter()
        render_to_string(
            "lessons/_panel.html",
            # A page's token, as a request would give it (the plan forms carry one).
            {"run": run, "report": build_report(sample.queries), "csrf_token": "t" * 64},
        )
        drawn.append(time.perf_counter() - started)
    steps["formatting the panel (web)"] = statistics.median(drawn)
    total = sum(steps.values())
    for name, seconds in steps.items():
        print(f"  {name:<34} {seconds * 1000:7.2f} ms  {seconds / total:6.1%}")
    code_share = steps.get("the code", 0.0) / total
    print(f"  {'all of it':<34} {total * 1000:7.2f} ms   the code itself: {code_share:.0%}")
    connections.close_all()


if __name__ == "__main__":
    main()
