"""Time to build all three datasets from nothing (`manage.py seed` into an empty directory),
against the 20-second budget. Each round is a fresh process, as a new learner would run it."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from time import perf_counter

from _common import ROOT

BUDGET_SECONDS = 20.0


def seed_once() -> float:
    with tempfile.TemporaryDirectory() as var_dir:
        env = {**os.environ, "COURSE_VAR_DIR": var_dir}
        started = perf_counter()
        subprocess.run(
            [sys.executable, "manage.py", "seed"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    times = [seed_once() for _ in range(rounds)]
    median = statistics.median(times)
    print(f"\nSeeding tiny + medium + large from nothing, median of {rounds} runs")
    print(
        f"  {median:6.2f} s   ({median / BUDGET_SECONDS:.2f} of the {BUDGET_SECONDS:.0f} s budget)"
    )
    print(f"  runs: {', '.join(f'{t:.2f}' for t in times)} s")


if __name__ == "__main__":
    main()
