"""What an index buys, pair by pair: every index pair of the part on the cost of one query (a
fixed side whose plan claims an index its bad side's does not) run on the large dataset, bad and
fixed in turn each round, and the ratio of their median times printed.

Both sides run through the course's runner (capture and rollback included), so the ratio is the
difference a learner sees in the panel. The engine is the primary one (COURSE_ENGINE).
"""

from __future__ import annotations

import argparse

from _common import interleaved, setup_django

setup_django()

from django.db import connections  # noqa: E402

from lessons.catalog import Pair, get_catalog  # noqa: E402
from lessons.engine.child.runner import run_code  # noqa: E402

PART = "The cost of one query"


def index_pairs(engine: str, dataset: str) -> list[tuple[str, Pair]]:
    """The pairs whose fixed side claims an index there that their bad side does not."""
    [part] = [part for part in get_catalog().parts if part.title == PART]
    found = []
    for lesson in part.lessons:
        for pair in lesson.comparisons:
            bad, fixed = pair.snippets
            if bad.differs or fixed.differs:  # not the same answer faster: no ratio to give
                continue
            if not (bad.runs_on(engine) and fixed.runs_on(engine)):
                continue
            bad_indexes = {c.target for c in bad.plans.for_(engine, dataset) if c.kind == "index"}
            fixed_indexes = {
                c.target for c in fixed.plans.for_(engine, dataset) if c.kind == "index"
            }
            if fixed_indexes - bad_indexes:
                found.append((lesson.slug, pair))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dataset", default="large")
    args = parser.parse_args()
    engine = connections[args.dataset].vendor
    pairs = index_pairs(engine, args.dataset)
    if not pairs:
        raise SystemExit(f"No pair claims an index on its fixed side on {engine} {args.dataset}.")
    print(
        f"Index pairs on {args.dataset} ({connections[args.dataset].display_name}), median of "
        f"{args.rounds} rounds, bad and fixed in turn"
    )
    width = max(len(f"{slug}:{pair.id}") for slug, pair in pairs)
    for slug, pair in pairs:
        bad, fixed = pair.snippets
        for snippet in (bad, fixed):  # a broken side would make its time meaningless
            result = run_code(snippet.code, args.dataset)
            if result.error is not None:
                raise SystemExit(f"{slug}:{snippet.id} failed: {result.error.message}")
        medians = interleaved(
            {
                "bad": lambda code=bad.code: run_code(code, args.dataset),
                "fixed": lambda code=fixed.code: run_code(code, args.dataset),
            },
            args.rounds,
        )
        ratio = medians["bad"] / medians["fixed"]
        print(
            f"  {slug + ':' + pair.id:<{width}}  bad {medians['bad'] * 1000:8.1f} ms   "
            f"fixed {medians['fixed'] * 1000:7.1f} ms   bad/fixed {ratio:6.1f}x"
        )


if __name__ == "__main__":
    main()
