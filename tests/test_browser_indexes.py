"""In a real browser: an index pair of the indexes lesson run on Production, each side's plan read
from its Explain button. The bad side's plan reads the whole table, the fixed side's names the
index its claim names; both taken from the lesson's own declarations, on whichever engine serves."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from lessons import datasets
from lessons.catalog import get_catalog
from tests.conftest import replace_code

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


def test_an_exercise_that_scans_is_refused_with_its_plan_line(
    engine: str, course_server: str, browser: Browser, screenshot_dir: Path
) -> None:
    [exercise] = [
        e for e in get_catalog().by_slug[LESSON].exercises if e.plan.for_(engine, DATASET)
    ][:1]
    [table] = [c.target for c in exercise.plan.for_(engine, DATASET) if c.kind == "no-scan"][:1]
    attempt = next(a for a in exercise.wrong if a.reason == "technique")
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/")
    card = page.locator(f"#exercise-{exercise.id.replace('.', '-')}")
    editor = card.locator(".cm-content")
    expect(editor).to_contain_text(exercise.start.splitlines()[0])

    replace_code(page, editor, attempt.code)
    card.get_by_role("button", name="Check").click()

    verdict = card.locator(".verdict")
    expect(verdict).to_have_attribute("data-passed", "false", timeout=30_000)
    expect(verdict).to_contain_text(f"reads the whole {table} table")
    expect(verdict).to_contain_text(SCAN_WORDS[engine].format(table=table))
    expect(verdict.locator(".cost--over[data-cost='plan']")).to_be_visible()
    card.screenshot(path=str(screenshot_dir / f"exercise-plan-{engine}.png"))
    page.close()
