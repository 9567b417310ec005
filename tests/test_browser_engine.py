"""In a real browser, with PostgreSQL configured: the lesson page switches engine as it switches
data size, and the panel names the engine that ran the snippet."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from lessons import datasets

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(len(datasets.ENGINES) < 2, reason="PostgreSQL is not configured"),
]

LESSON = "n-plus-one"
SNIPPET = "count-comments.bad"


def test_switching_engine_keeps_the_size_and_runs_on_the_other_engine(
    data: None, course_server: str, browser: Browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/")
    page.get_by_role("link", name="Staging").click()
    page.wait_for_url("**dataset=medium")

    engines = page.get_by_role("navigation", name="Engine")
    engines.get_by_role("link", name="SQLite").click()
    page.wait_for_url("**engine=sqlite")
    assert "dataset=medium" in page.url
    expect(engines.get_by_role("link", name="SQLite")).to_have_attribute("aria-current", "true")
    page.click(f"[data-run='{SNIPPET}']")

    panel = page.locator(f".panel[data-snippet='{SNIPPET}']")
    expect(panel).to_contain_text("Ran on Staging (100 posts, SQLite)")
    page.screenshot(path=str(screenshot_dir / "engine-switch-sqlite.png"))
    engines.get_by_role("link", name="PostgreSQL").click()
    page.click(f"[data-run='{SNIPPET}']")
    expect(panel).to_contain_text("Ran on Staging (100 posts, PostgreSQL)")
    page.close()
