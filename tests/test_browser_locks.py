"""In a real browser, on PostgreSQL: the skip_locked demo hands two workers different rows."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.test_postgresql import on_postgresql

pytestmark = [pytest.mark.browser, on_postgresql]

LESSON = "postgresql"
DEMO = "lock-skip-locked"


def test_skip_locked_demo_shows_two_workers_with_different_rows(
    data: None, course_server: str, browser: Browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/?dataset=medium")

    page.click(f"[data-run='{DEMO}']")

    panel = page.locator(f".panel[data-snippet='{DEMO}']")
    expect(panel).to_contain_text("PostgreSQL) with Django")
    panel.get_by_text("Output", exact=True).click()
    output = panel.locator("details.output pre")
    expect(output).to_be_visible()
    expect(output).to_contain_text("worker A took [1, 2, 3]")
    expect(output).to_contain_text("worker B took [4, 5, 6]")
    expect(output).to_contain_text("shared: none")
    assert panel.get_attribute("data-matches") == "true"
    panel.screenshot(path=str(screenshot_dir / "skip-locked-postgresql.png"))
    page.close()
