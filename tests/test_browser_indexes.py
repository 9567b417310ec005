"""In a real browser: an index pair of the indexes lesson run on Production, each side's plan read
from its Explain button. The bad side's plan reads the whole table, the fixed side's names the
index its claim names; both taken from the lesson's own declarations, on whichever engine serves."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from lessons import datasets
from lessons.catalog import get_catalog

pytestmark = pytest.mark.browser

LESSON = "indexes"
DATASET = "large"
# How each engine words a full scan of a table, as its Explain button shows it.
SCAN_WORDS = {"sqlite": "SCAN {table}", "postgresql": "Seq Scan on {table}"}


def index_pair(engine: str) -> tuple[str, str, str, str]:
    """The first pair whose bad side claims a scan and whose fixed side an index on Production:
    (bad id, scanned table, fixed id, index)."""
    for pair in get_catalog().by_slug[LESSON].comparisons:
        bad, fixed = pair.snippets
        scans = [c.target for c in bad.plans.for_(engine, DATASET) if c.kind == "scan"]
        indexes = [c.target for c in fixed.plans.for_(engine, DATASET) if c.kind == "index"]
        if scans and indexes:
            return bad.id, scans[0], fixed.id, indexes[0]
    raise AssertionError(f"{LESSON} has no index pair claimed on {engine} {DATASET}")


@pytest.fixture
def engine(data: None) -> str:
    """The engine serving Production, read before the browser starts (see conftest.browser)."""
    return datasets.stats(DATASET).engine


def test_an_index_pair_on_production_shows_the_scan_and_the_index(
    engine: str, course_server: str, browser: Browser, screenshot_dir: Path
) -> None:
    bad, table, fixed, index = index_pair(engine)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/?dataset={DATASET}")

    for snippet, words in ((bad, SCAN_WORDS[engine].format(table=table)), (fixed, index)):
        page.click(f"[data-run='{snippet}']")
        panel = page.locator(f".panel[data-snippet='{snippet}']")
        statement = panel.locator("li.query").filter(has_text=table).first
        statement.get_by_role("button", name="Explain query plan").click()
        expect(statement.locator(".plan-slot .plan .plan-tree")).to_contain_text(words)

    page.locator(f".panel[data-snippet='{fixed}']").screenshot(
        path=str(screenshot_dir / f"index-plan-{engine}.png")
    )
    page.close()
