"""The price of watching a run: the n-plus-one bad snippet on the large dataset, executed

- bare: plain Django, the same code with no capture and no transaction;
- runner: through lessons.runner (capture, line attribution, rollback, objects built);
- JSON endpoint: a POST to the API through the whole Django stack, JSON included;
- debug-toolbar: captured by django-debug-toolbar's SQL panel machinery instead of ours.
"""

from __future__ import annotations

import argparse
import io

from _common import interleaved, print_table, setup_django

setup_django()

from django.db import connections  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client, RequestFactory  # noqa: E402

from lessons import datasets  # noqa: E402
from lessons.catalog import get_catalog  # noqa: E402
from lessons.engine.child.runner import SNIPPET_GLOBALS  # noqa: E402
from lessons.engine.child.runner import run_code as run_snippet  # noqa: E402

LESSON, SNIPPET, DATASET = "n-plus-one", "count-comments.bad", "large"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds

    snippet = get_catalog().by_slug[LESSON].snippets[SNIPPET]
    code = compile(snippet.code, "<bare>", "exec")
    client = Client()
    url = f"/api/lessons/{LESSON}/snippets/{SNIPPET}/run/"

    def bare() -> None:
        out = io.StringIO()
        namespace = {**SNIPPET_GLOBALS, "print": lambda *a, **k: print(*a, file=out)}
        with datasets.use_dataset(DATASET):
            exec(code, namespace)

    def runner() -> None:
        run_snippet(snippet.code, DATASET)

    def endpoint() -> None:
        response = client.post(url, {"dataset": DATASET})
        assert response.status_code == 200, response.content[:200]

    toolbar_panel = _debug_toolbar_sql_panel()

    def debug_toolbar() -> None:
        toolbar_panel._queries.clear()
        toolbar_panel.enable_instrumentation()
        try:
            bare()
        finally:
            toolbar_panel.disable_instrumentation()

    result = run_snippet(snippet.code, DATASET)
    stats = datasets.stats(DATASET)
    print(
        f"{LESSON} / {SNIPPET} on {DATASET}: {result.query_count:,} queries "
        f"(expect {snippet.expect} = {stats.expected_count(snippet):,}), "
        f"median of {rounds} interleaved rounds"
    )
    variants = {"bare Django": bare, "runner": runner, "JSON endpoint": endpoint}
    if toolbar_panel is not None:
        variants["debug-toolbar capture"] = debug_toolbar
    medians = interleaved(variants, rounds)
    print_table("Time per run", medians, "bare Django")
    if toolbar_panel is not None:
        ratio = medians["debug-toolbar capture"] / medians["runner"]
        print(f"\n  debug-toolbar capture / runner = {ratio:.2f}")
    print(f"  runner / bare = {medians['runner'] / medians['bare Django']:.2f}")
    connections.close_all()


def _debug_toolbar_sql_panel():  # type: ignore[no-untyped-def]
    try:
        from debug_toolbar.toolbar import DebugToolbar
    except ImportError:
        print("django-debug-toolbar is not installed: skipping its comparison")
        return None
    request = RequestFactory().get("/blog/")
    toolbar = DebugToolbar(request, lambda request: HttpResponse())
    return toolbar.get_panel_by_id("SQLPanel")


if __name__ == "__main__":
    main()
