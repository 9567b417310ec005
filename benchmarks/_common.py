"""Shared helpers: Django set-up and interleaved timing. Scripts print ratios, never assert."""

from __future__ import annotations

import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter

ROOT = Path(__file__).resolve().parent.parent


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "course.settings")
    import django

    django.setup()


def interleaved(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds per variant, running them in turn each round so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for run in variants.values():  # warm caches and connections once, untimed
        run()
    for _ in range(rounds):
        for name, run in variants.items():
            started = perf_counter()
            run()
            samples[name].append(perf_counter() - started)
    return {name: statistics.median(times) for name, times in samples.items()}


def print_table(title: str, medians: dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    width = max(len(name) for name in medians)
    for name, seconds in medians.items():
        ratio = seconds / medians[baseline]
        print(f"  {name:<{width}}  {seconds * 1000:9.1f} ms   {ratio:5.2f}x {baseline}")
