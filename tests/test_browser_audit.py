"""Every kind of page, as a newcomer meets it in Chromium: axe-core (WCAG 2 A and AA, and its
best practices) finds nothing in light and in dark, a 390 px phone never scrolls sideways, the
presenter's projector (1024 x 768, larger type) cuts no line of code, and no script throws."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from lessons.catalog import get_catalog
from lessons.learner.progress import SHARED_SEED
from lessons.learner.quiz import choice_order
from tests.conftest import join_room, replace_code

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text()
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PROJECTOR: ViewportSize = {"width": 1024, "height": 768}
LESSON = get_catalog().by_slug["n-plus-one"]
PLANNED = get_catalog().by_slug["indexes"]  # plans claimed, a plan-budgeted exercise
EXERCISE = LESSON.exercises[0]
BAD = "count-comments.bad"


# ------------------------------------------------------ the pages, as a learner gets there


def lesson(page: Page, base: str) -> None:
    page.goto(f"{base}/lessons/{LESSON.slug}/")


def lesson_after_runs(page: Page, base: str) -> None:
    """Both cards of the first pair run, the bad card's SQL list open and one plan shown."""
    lesson(page, base)
    for snippet in ("count-comments.bad", "count-comments.fixed"):
        page.click(f"[data-run='{snippet}']")
        expect(page.locator(f".panel[data-snippet='{snippet}']")).to_be_visible()
    card = page.locator("#card-count-comments-bad")
    queries = card.locator("details.queries")
    if not queries.get_attribute("open"):
        queries.locator(":scope > summary").click()
    card.get_by_role("button", name="Explain query plan").first.click()
    expect(card.locator(".plan").first).to_be_visible()


def edit_mode(page: Page, base: str) -> None:
    lesson(page, base)
    card = page.locator("#card-count-comments-bad")
    card.get_by_role("link", name="Edit").click()
    expect(card.locator(".cm-content")).to_be_visible()


def exercise_after_check(page: Page, base: str) -> None:
    lesson(page, base)
    exercise = page.locator(f"[data-exercise='{EXERCISE.id}']")
    exercise.get_by_role("button", name="Check").click()
    expect(exercise.locator(".exercise-verdict .verdict")).to_be_visible()


def plan_lesson_after_checks(page: Page, base: str) -> None:
    """The indexes lesson on Production: its first pair run, the fixed side's plan shown, and its
    plan-budgeted exercise refused on the plan (the cost cell and the message that names it)."""
    page.goto(f"{base}/lessons/{PLANNED.slug}/?dataset=large")
    pair = PLANNED.comparisons[0]
    for snippet in pair.snippets:
        page.click(f"[data-run='{snippet.id}']")
        expect(page.locator(f".panel[data-snippet='{snippet.id}']")).to_be_visible()
    fixed = page.locator(f".panel[data-snippet='{pair.snippets[1].id}']")
    fixed.get_by_role("button", name="Explain query plan").first.click()
    expect(fixed.locator(".plan").first).to_be_visible()
    exercise = next(e for e in PLANNED.exercises if e.plan)
    attempt = next(a for a in exercise.wrong if a.reason == "technique")
    card = page.locator(f"#exercise-{exercise.id.replace('.', '-')}")
    replace_code(page, card.locator(".cm-content"), attempt.code)
    card.get_by_role("button", name="Check").click()
    expect(card.locator(".verdict [data-cost='plan']")).to_be_visible(timeout=30_000)


def playground_after_run(page: Page, base: str) -> None:
    page.goto(f"{base}/playground/")
    page.click("[data-run='playground']")
    expect(page.locator("#playground-result .panel")).to_be_visible()


def quiz_answered(page: Page, base: str) -> None:
    lesson(page, base)
    question = page.locator("form.question").first
    question.locator("label.choice").first.click()
    question.get_by_role("button", name="Check").click()
    expect(page.locator("form.question .feedback").first).to_be_visible()


def review_answered(page: Page, base: str) -> None:
    """Two of a lesson's questions answered wrong, then one of them answered on the review page:
    one graded there, one still due."""
    lesson(page, base)
    for question in LESSON.quiz[:2]:
        order = choice_order(SHARED_SEED, question)  # a learner on their own machine
        wrong = next(i for i in order if i != question.answer)
        form = page.locator(f"#q-{question.id}")
        form.locator("label.choice").nth(order.index(wrong)).click()
        form.get_by_role("button", name="Check").click()
        expect(page.locator(f"#q-{question.id} .feedback")).to_be_visible()
    page.goto(f"{base}/review/")
    first = page.locator("form.question").first
    first.locator("label.choice").first.click()
    first.get_by_role("button", name="Check").click()
    expect(page.locator(".review-next")).to_be_visible()


def visit(path: str) -> Callable[[Page, str], None]:
    def go(page: Page, base: str) -> None:
        page.goto(f"{base}{path}")

    go.__name__ = path
    return go


PAGES: dict[str, Callable[[Page, str], None]] = {
    "outline": visit("/"),
    "lesson": lesson,
    "lesson after runs": lesson_after_runs,
    "edit mode": edit_mode,
    "exercise after a check": exercise_after_check,
    "plan lesson after checks": plan_lesson_after_checks,
    "playground after a run": playground_after_run,
    "quiz answered": quiz_answered,
    "exam": visit("/exam/"),
    "review": review_answered,
    "search results": visit("/search/?q=select_related"),
    "404": visit("/lessons/no-such-lesson/"),
    "400": visit(f"/lessons/{LESSON.slug}/?dataset=enormous"),
}


def room_page(name: str, page: Page, base: str, token: str) -> None:
    if name == "join":
        page.goto(f"{base}/join/")
    elif name == "join screen":
        page.goto(f"{base}/join/screen/")
    elif name in ("console", "console mid-discussion"):
        page.goto(f"{base}/console/{token}/?lesson={LESSON.slug}")
    elif name == "learner's lesson":  # asked to predict, with "I'm stuck" on every card
        page.goto(f"{base}/join/?next=/lessons/{LESSON.slug}/")
        page.get_by_label("Your name").fill("Ana")
        page.get_by_role("button", name="Join").click()
        expect(page.locator(".predict").first).to_be_visible()
    else:  # the presenter view, opened from the console
        page.goto(f"{base}/console/{token}/?lesson={LESSON.slug}")
        page.get_by_role("link", name=f"Present {LESSON.title}").click()
        expect(page).to_have_url(re.compile(r"/console/present/"))


ROOM_PAGES = ["join", "join screen", "console", "presenter", "learner's lesson"]


@pytest.fixture
def discussion(room: Any) -> str:
    """The room mid-lesson, made before the browser starts (no ORM calls under its loop): two
    predictions on a card, its count revealed, a vote open with one vote in, and a learner's
    shared help request waiting. The room's token."""
    from django.test import Client

    ana, ben = join_room("Ana"), join_room("Ben")
    run = f"/lessons/{LESSON.slug}/run/"
    for learner, guess in ((ana, "3"), (ben, "1 + posts")):
        learner.post(
            run, {"snippet": BAD, "dataset": "tiny", "predict": guess}, HTTP_HX_REQUEST="1"
        )
    instructor = Client()
    console = f"/console/{room.token}"
    instructor.get(f"{console}/")
    instructor.post(
        f"{console}/predictions/reveal/", {"lesson": LESSON.slug, "snippet": BAD, "dataset": "tiny"}
    )
    question = LESSON.quiz[0]
    instructor.post(
        f"{console}/vote/", {"lesson": LESSON.slug, "question": question.id, "do": "open"}
    )
    ana.post(f"/lessons/{LESSON.slug}/quiz/", {"question": question.id, "choice": "0"})
    ben.post(
        f"/lessons/{LESSON.slug}/help/",
        {"snippet": BAD, "dataset": "tiny", "code": "Post.objects.all()", "shareable": "1"},
    )
    return str(room.token)


# ------------------------------------------------------------------ what is measured on a page


def axe_violations(page: Page) -> list[str]:
    """axe-core's findings, one line per rule with the first elements it names."""
    page.evaluate(AXE)  # through the DevTools protocol: the page's CSP does not apply
    found = page.evaluate(
        """async (tags) => {
          const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
          return result.violations.map((v) => `${v.id} (${v.nodes.length}): ` +
            v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
        }""",
        AXE_TAGS,
    )
    return list(found)


def axe_on_desktop_and_phone(page: Page) -> tuple[list[str], list[str]]:
    """axe's findings on the page as it is, then on the same page narrowed to a phone."""
    on_desktop = axe_violations(page)
    page.set_viewport_size(PHONE)
    return on_desktop, axe_violations(page)


def sideways(page: Page) -> int:
    """How many pixels the document is wider than the viewport (0: it fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def beyond_the_edge(page: Page) -> list[str]:
    """The innermost elements whose content spills out of their box: what to fix first."""
    found = page.evaluate(
        """() => {
          const spills = (el) => el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 &&
            getComputedStyle(el).overflowX === "visible";
          const all = [...document.querySelectorAll("body *")].filter(spills);
          return all.filter((el) => !all.some((other) => other !== el && el.contains(other)))
            .slice(0, 5).map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}` +
              `: ${el.scrollWidth} px in ${el.clientWidth}`);
        }"""
    )
    return list(found)


def cut_code(page: Page) -> list[str]:
    """Code blocks whose content is wider than the box that shows it."""
    found = page.evaluate(
        """() => [...document.querySelectorAll("pre, .code, .code-line code, .cm-content")]
          .filter((el) => el.getClientRects().length && el.scrollWidth > el.clientWidth + 1)
          .map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join(".")}: ` +
            `${el.scrollWidth} px of content in ${el.clientWidth}`)"""
    )
    return list(found)


def open_page(browser: Any, viewport: ViewportSize, scheme: str = "light") -> Page:
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    return page


# ------------------------------------------------------------------ the tests


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", PAGES)
def test_axe_finds_nothing(
    kind: str, scheme: str, data: None, course_server: str, browser: Any
) -> None:
    page = open_page(browser, DESKTOP, scheme)
    PAGES[kind](page, course_server)
    assert axe_on_desktop_and_phone(page) == ([], [])


@pytest.mark.parametrize("kind", PAGES)
def test_a_phone_never_scrolls_sideways(
    kind: str, data: None, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    page = open_page(browser, PHONE)
    PAGES[kind](page, course_server)
    page.screenshot(path=str(screenshot_dir / f"phone-{kind.replace(' ', '-')}.png"))

    assert sideways(page) == 0, beyond_the_edge(page)


@pytest.mark.parametrize("kind", PAGES)
def test_no_script_throws(kind: str, data: None, course_server: str, browser: Any) -> None:
    page = open_page(browser, DESKTOP)
    PAGES[kind](page, course_server)
    for summary in page.locator("details > summary").all()[:6]:  # toggling a section ran a bug
        if summary.is_visible():
            summary.click()

    assert page.errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", ["lesson after runs", "edit mode", "exercise after a check"])
def test_presenter_mode_cuts_no_line_of_code_on_a_projector(
    kind: str, data: None, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    page = open_page(browser, PROJECTOR)
    PAGES[kind](page, course_server)
    page.locator("body").click(position={"x": 2, "y": 2})  # out of the editor: `p` is a shortcut
    page.keyboard.press("p")
    expect(page.locator("html.presenter")).to_have_count(1)
    page.screenshot(path=str(screenshot_dir / f"projector-{kind.replace(' ', '-')}.png"))

    assert cut_code(page) == []


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("kind", ROOM_PAGES)
def test_axe_finds_nothing_on_the_rooms_pages(
    kind: str, scheme: str, room: Any, course_server: str, browser: Any
) -> None:
    token = room.token  # read before the browser's loop runs (no ORM calls under it)
    page = open_page(browser, DESKTOP, scheme)
    room_page(kind, page, course_server, token)
    assert axe_on_desktop_and_phone(page) == ([], [])


@pytest.mark.parametrize("kind", ROOM_PAGES)
def test_a_phone_never_scrolls_sideways_on_the_rooms_pages(
    kind: str, room: Any, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    token = room.token
    page = open_page(browser, PHONE)
    room_page(kind, page, course_server, token)
    page.screenshot(path=str(screenshot_dir / f"phone-{kind}.png"), full_page=True)

    assert sideways(page) == 0, beyond_the_edge(page)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_console_mid_discussion(
    scheme: str, discussion: str, course_server: str, browser: Any
) -> None:
    page = open_page(browser, DESKTOP, scheme)
    room_page("console mid-discussion", page, course_server, discussion)
    expect(page.locator("[data-measured]").first).to_be_visible()
    expect(page.locator(".vote-rounds").first).to_be_visible()
    expect(page.locator(".help-request").first).to_be_visible()
    assert axe_on_desktop_and_phone(page) == ([], [])


def test_a_phone_never_scrolls_sideways_on_the_console_mid_discussion(
    discussion: str, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    page = open_page(browser, PHONE)
    room_page("console mid-discussion", page, course_server, discussion)
    expect(page.locator(".help-request").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "phone-console-mid-discussion.png"), full_page=True)

    assert sideways(page) == 0, beyond_the_edge(page)


def test_the_presenter_view_cuts_no_line_of_code_on_a_projector(
    room: Any, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    token = room.token
    page = open_page(browser, PROJECTOR)
    room_page("presenter", page, course_server, token)
    page.get_by_role("button", name="Run").first.click()
    expect(page.locator(".panel").first).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "projector-presenter-view.png"))

    assert cut_code(page) == []


def test_a_lesson_after_runs_cuts_no_line_of_code_on_a_desktop(
    data: None, course_server: str, browser: Any
) -> None:
    page = open_page(browser, DESKTOP)
    lesson_after_runs(page, course_server)

    assert cut_code(page) == []


def test_the_pages_follow_the_systems_dark_mode(
    data: None, course_server: str, browser: Any
) -> None:
    """Dark is not light passed off as dark: the page's own background turns dark."""
    shades = {}
    for scheme in ("light", "dark"):
        page = open_page(browser, DESKTOP, scheme)
        lesson(page, course_server)
        shades[scheme] = page.evaluate(
            """() => {
              const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g);
              return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
            }"""
        )

    assert shades["light"] > 0.9 and shades["dark"] < 0.15
