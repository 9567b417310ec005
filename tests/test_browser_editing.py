"""Editing in a real browser (Debian's chromium through Playwright): a card's code edited in
place, Reset, limits, the keyboard, and the playground with its share link."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog
from tests.conftest import replace_code

pytestmark = pytest.mark.browser

LESSON = get_catalog().by_slug["n-plus-one"]
BAD, FIXED = LESSON.snippets["count-comments.bad"], LESSON.snippets["count-comments.fixed"]
CARD = "#card-count-comments-bad"


def edit_and_run(page: Any, base: str, code: str, dataset: str = "tiny") -> Any:
    """The lesson's bad card, edited into `code` and run: the card."""
    page.goto(f"{base}/lessons/{LESSON.slug}/?dataset={dataset}")
    card = page.locator(CARD)
    card.get_by_role("link", name="Edit").click()
    replace_code(page, card.locator(".cm-content"), code)
    card.get_by_role("button", name="Run").click()
    return card


@pytest.fixture
def short_limits(settings: Any) -> None:
    # Short enough that a loop stops soon, long enough for a real run beside the suite's workers.
    settings.COURSE_RUN_CPU_SECONDS = 2
    settings.COURSE_RUN_WALL_SECONDS = 6


def test_edit_a_card_into_the_fix_then_reset_it(
    data: None, short_limits: None, course_server: str, browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON.slug}/?dataset=medium")
    card = page.locator(CARD)
    card.get_by_role("link", name="Edit").click()
    editor = card.locator(".cm-content")
    replace_code(page, editor, FIXED.code)
    card.get_by_role("button", name="Run").click()

    panel = page.locator(f"{CARD} .panel[data-edited='true']")
    expect(panel).to_have_attribute("data-query-count", "1")
    expect(panel).to_contain_text("Your edited code ran on Staging")
    page.locator(CARD).screenshot(path=str(screenshot_dir / "edited-card.png"))

    page.locator(CARD).get_by_role("button", name="Reset").click()
    expect(page.locator(f"{CARD} .cm-content")).to_contain_text("post.comments.count()")

    # An endless loop is stopped with a message, and the page goes on working.
    replace_code(page, page.locator(f"{CARD} .cm-content"), "while True:\n    pass\n")
    page.locator(CARD).get_by_role("button", name="Run").click()
    expect(page.locator(f"{CARD} .run-error")).to_contain_text("was stopped", timeout=15_000)
    page.click("[data-run='count-comments.fixed']")
    fixed = page.locator(".panel[data-snippet='count-comments.fixed']")
    expect(fixed).to_have_attribute("data-matches", "true")
    page.close()


def test_an_edit_survives_a_reload(data: None, course_server: str, browser) -> None:
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON.slug}/")
    page.locator(CARD).get_by_role("link", name="Edit").click()
    replace_code(page, page.locator(f"{CARD} .cm-content"), "print('kept')\n")

    page.reload()
    expect(page.locator(f"{CARD} .cm-content")).to_have_text("print('kept')")
    page.locator(CARD).get_by_role("button", name="Reset").click()
    page.close()


def test_keyboard_only_edit_run_and_leave(data: None, course_server: str, browser) -> None:
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON.slug}/?dataset=medium")
    edit = page.locator(CARD).get_by_role("link", name="Edit")
    for _ in range(80):  # Tab until the Edit link has focus, as a keyboard user would
        page.keyboard.press("Tab")
        if edit.evaluate("link => link === document.activeElement"):
            break
    page.keyboard.press("Enter")  # opens the editor and puts the cursor in it
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.press("Shift+Tab")  # back to the left margin after the loop's indent
    page.keyboard.type("print('done')")
    page.keyboard.press("Control+Enter")

    panel = page.locator(f"{CARD} .panel[data-edited='true']")
    expect(panel).to_contain_text("done")
    editor = page.locator(f"{CARD} .cm-content")
    editor.focus()
    page.keyboard.press("Escape")  # leaves for the next control: the Run button
    assert page.evaluate("document.activeElement.textContent") == "Run again"
    page.keyboard.press("Tab")
    assert not editor.evaluate("node => node.contains(document.activeElement)")
    page.locator(CARD).get_by_role("button", name="Reset").click()
    page.close()


def test_playground_opens_a_card_runs_on_large_and_shares(
    data: None, course_server: str, browser, screenshot_dir: Path
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{course_server}/lessons/{LESSON.slug}/")
    page.locator(CARD).get_by_role("link", name="Edit").click()
    replace_code(page, page.locator(f"{CARD} .cm-content"), "print(Post.objects.count())\n")
    page.locator(CARD).get_by_role("link", name="Open in the playground").click()

    page.wait_for_url("**/playground/**")
    expect(page.locator(".cm-content")).to_have_text("print(Post.objects.count())")
    page.get_by_label("Production").check()
    page.get_by_role("button", name="Run").click()
    panel = page.locator(".panel[data-snippet='playground']")
    expect(panel).to_have_attribute("data-dataset", "large")
    page.get_by_role("button", name="Copy a share link").click()
    expect(page.locator(".playground-form .share-status")).to_contain_text("Share link copied")
    link = page.evaluate("navigator.clipboard.readText()")
    page.screenshot(path=str(screenshot_dir / "playground.png"), full_page=True)
    context.close()

    other = browser.new_context()
    shared = other.new_page()
    shared.goto(link)
    expect(shared.locator(".cm-content")).to_have_text("print(Post.objects.count())")
    assert shared.locator("input[name=dataset][value=large]").is_checked()
    other.close()


def test_an_edited_run_keeps_the_queries_per_line_beside_the_editor(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    edit_and_run(page, course_server, "# my copy\n" + BAD.code, dataset="medium")
    expect(page.locator(f"{CARD} .panel[data-edited='true']")).to_be_visible()

    gutter = page.locator(f"{CARD} .cm-query-gutter")
    expect(gutter).to_contain_text("100")  # the loop body, once per post, as on the lesson's code
    page.close()


def test_the_playground_shows_the_queries_per_line_beside_its_editor(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/playground/")
    replace_code(page, page.locator(".cm-content"), BAD.code)
    page.get_by_label("Staging").check()
    page.click("[data-run='playground']")
    expect(page.locator("#playground-result .panel")).to_be_visible()

    expect(page.locator(".cm-query-gutter")).to_contain_text("100")
    page.close()


def test_a_syntax_error_marks_its_line_in_the_editor(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    card = edit_and_run(page, course_server, "posts = 1\nfor post in posts\n    pass\n")

    expect(card.locator(".run-error")).to_contain_text("SyntaxError")
    expect(card.locator(".panel")).to_contain_text("did not run")
    expect(card.locator(".cm-error-line")).to_contain_text("for post in posts")
    page.close()


def test_a_long_run_shows_how_long_it_has_been_going(
    data: None, short_limits: None, course_server: str, browser
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    card = edit_and_run(page, course_server, "import time\ntime.sleep(3)\n")

    expect(card.locator(".running")).to_have_text(re.compile(r"Running on Laptop… [1-9]\d* s"))
    expect(card.locator(".panel")).to_be_visible(timeout=15_000)
    page.close()


def test_cancel_ends_a_run_that_takes_too_long(data: None, course_server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    card = edit_and_run(page, course_server, "import time\ntime.sleep(8)\n")
    card.get_by_role("button", name="Cancel").click()

    expect(card.locator(".run-error")).to_contain_text("You cancelled the run", timeout=6_000)
    expect(card.get_by_role("button", name="Cancel")).to_be_hidden()
    page.close()
