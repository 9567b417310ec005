"""In a real browser, on PostgreSQL: a statement's Explain button shows EXPLAIN ANALYZE's plan."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.test_postgresql import on_postgresql

pytestmark = [pytest.mark.browser, on_postgresql]

LESSON = "n-plus-one"
FIXED = "count-comments.fixed"  # one statement: a join and a GROUP BY, a plan with a tree


def test_explain_on_postgresql_shows_the_analyzed_plan(
    data: None, course_server: str, browser: Browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/?dataset=medium")
    page.click(f"[data-run='{FIXED}']")
    panel = page.locator(f".panel[data-snippet='{FIXED}']")
    statement = panel.locator("li.query").first  # the list is open: a single statement

    statement.get_by_role("button", name="Explain query plan").click()

    plan = statement.locator(".plan-slot .plan")
    expect(plan).to_contain_text("the statement was run and rolled back")
    expect(plan.locator(".plan-tree")).to_contain_text("actual time=")
    expect(plan.locator(".plan-summary")).to_contain_text("Execution Time")
    assert plan.locator(".plan-node").count() >= 2  # the tree, each node's name emphasised
    statement.screenshot(path=str(screenshot_dir / "plan-postgresql.png"))
    page.close()
