"""The Content Security Policy in a real browser (Debian's chromium through Playwright): the pages
do everything they do (htmx runs, the editor, the playground, dialogs) and the browser refuses
nothing. Every violation the browser reports, as an event or on the console, fails the test."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog
from tests.conftest import replace_code

pytestmark = pytest.mark.browser

LESSON = get_catalog().by_slug["n-plus-one"]
CARD = "#card-count-comments-bad"

# Runs in every document before its own scripts: the violations it sees, kept in a window array.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(
    `${event.violatedDirective} refused ${event.blockedURI || "inline code"} ` +
    `(${event.sourceFile}:${event.lineNumber}) ${event.sample} on ` +
    `${event.target.outerHTML?.slice(0, 120) ?? event.target.nodeName}`);
}, true);
"""


class Watched:
    """A page whose CSP violations are collected across navigations: the window array is read
    before each one (a new document starts a new array), console messages as they come."""

    def __init__(self, browser: Any, **options: Any) -> None:
        self.context = browser.new_context(**options)
        self.page = self.context.new_page()
        self.page.add_init_script(RECORD_VIOLATIONS)
        self.seen: list[str] = []
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.seen.append(f"console: {message.text}")

    def harvest(self) -> None:
        # The event is dispatched in a task after the refusal: let it arrive before reading.
        self.page.wait_for_timeout(100)
        self.seen += self.page.evaluate("window.cspViolations || []")
        self.page.evaluate("window.cspViolations = []")

    def goto(self, url: str) -> None:
        if self.page.url.startswith("http"):
            self.harvest()
        response = self.page.goto(url)
        assert response is not None
        policy = response.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy, f"{url} was served without the policy"

    def violations(self) -> list[str]:
        self.harvest()
        return self.seen


def test_the_course_runs_under_its_policy(data: None, course_server: str, browser) -> None:
    watched = Watched(browser, viewport={"width": 1400, "height": 1000})
    page = watched.page

    watched.goto(f"{course_server}/")
    expect(page.get_by_role("link", name=LESSON.title)).to_be_visible()

    watched.goto(f"{course_server}/lessons/{LESSON.slug}/")
    page.click("[data-run='count-comments.fixed']")
    fixed = page.locator(".panel[data-snippet='count-comments.fixed']")
    expect(fixed).to_have_attribute("data-query-count", "1")

    # The editor: its styles sit in a <style> element that only the nonce lets in.
    card = page.locator(CARD)
    card.get_by_role("link", name="Edit").click()
    editor = card.locator(".cm-content")
    replace_code(page, editor, "print(Post.objects.count())")
    page.keyboard.press("Enter")
    page.keyboard.type("print(Author.objects.count())")
    card.get_by_role("button", name="Run").click()
    edited = page.locator(f"{CARD} .panel[data-edited='true']")
    expect(edited).to_have_attribute("data-query-count", "2")
    gutter = card.locator(".cm-gutters")
    assert gutter.evaluate("node => getComputedStyle(node).display") == "flex", "no editor styles"
    card.get_by_role("button", name="Reset").click()

    watched.goto(f"{course_server}/playground/")
    replace_code(page, page.locator(".cm-content"), "print(Author.objects.count())")
    page.get_by_role("button", name="Run").click()
    panel = page.locator(".panel[data-snippet='playground']")
    expect(panel).to_have_attribute("data-query-count", "1")

    assert not (seen := watched.violations()), "\n".join(seen)
    watched.context.close()


def test_handlers_moved_out_of_the_markup_still_work(
    data: None, course_server: str, browser
) -> None:
    watched = Watched(browser)
    page = watched.page
    watched.goto(f"{course_server}/lessons/{LESSON.slug}/")
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(page.locator("#shortcuts")).to_be_visible()
    page.keyboard.press("Escape")

    # Presenter mode is set from localStorage before the first paint, by a static file.
    page.get_by_role("button", name="Presenter").click()
    watched.goto(f"{course_server}/")
    expect(page.locator("html")).to_have_class("presenter")
    page.get_by_role("button", name="Presenter").click()

    # Reset asks first; saying no keeps the page (and the progress) where it was.
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Reset my progress").click()
    assert asked and asked[0].startswith("Forget every lesson opened")
    assert page.url == f"{course_server}/"

    assert not (seen := watched.violations()), "\n".join(seen)
    watched.context.close()


def test_a_violation_is_caught(data: None, course_server: str, browser) -> None:
    """The watcher itself: an injected inline <script> and <style> are refused, and seen."""
    watched = Watched(browser)
    watched.goto(f"{course_server}/")
    watched.page.evaluate(
        """() => {
        const script = document.createElement("script");
        script.textContent = "window.ran = true";
        document.head.append(script);
        document.head.insertAdjacentHTML("beforeend", "<style>body { color: red }</style>");
    }"""
    )

    seen = watched.violations()
    assert watched.page.evaluate("window.ran") is None
    assert any("script-src" in line for line in seen), seen
    assert any("style-src" in line for line in seen), seen
    watched.context.close()
