"""In a real browser (Debian's chromium through Playwright): htmx Run buttons and the panel."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog
from tests.conftest import expected

pytestmark = pytest.mark.browser

LESSON = "n-plus-one"


@pytest.fixture
def promised_on_medium(data: None) -> dict[str, int]:
    # Read before the browser starts: Playwright's event loop makes the ORM refuse sync calls.
    snippets = get_catalog().by_slug[LESSON].snippets
    return {
        sid: expected(snippets[sid], "medium")
        for sid in ("count-comments.bad", "count-comments.fixed")
    }


def test_n_plus_one_runs_on_medium(
    promised_on_medium: dict[str, int], course_server: str, browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/")
    page.get_by_role("link", name="Staging").click()
    page.wait_for_url("**dataset=medium")

    for snippet_id, promised in promised_on_medium.items():
        page.click(f"[data-run='{snippet_id}']")
        panel = page.locator(f".panel[data-snippet='{snippet_id}']")
        panel.wait_for()
        assert panel.get_attribute("data-dataset") == "medium"
        assert int(panel.get_attribute("data-query-count")) == promised
        assert int(panel.get_attribute("data-expected-count")) == promised

    bad = page.locator("#card-count-comments-bad")
    assert bad.locator(".flag--n-plus-one").count() == 1
    assert bad.locator(".code-line[data-line='3'] .gutter").inner_text() == str(
        promised_on_medium["count-comments.bad"] - 1
    )
    page.locator("#pair-count-comments").screenshot(
        path=str(screenshot_dir / "n-plus-one-medium.png")
    )
    page.screenshot(path=str(screenshot_dir / "n-plus-one-page.png"), full_page=True)
    page.close()


def test_run_shows_an_error_message_when_the_server_refuses(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON}/")
    # Point one Run form at a dataset that does not exist, as a stale page might.
    page.eval_on_selector(
        "#card-count-comments-bad input[name=dataset]", "input => input.value = 'huge'"
    )
    page.click("[data-run='count-comments.bad']")
    status = page.locator("#card-count-comments-bad .card-status")
    expect(status).to_contain_text("There is no data size 'huge'")
    page.close()


def test_explain_shows_the_plan_beside_its_statement(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON}/")
    page.click("[data-run='count-comments.bad']")
    panel = page.locator(".panel[data-snippet='count-comments.bad']")
    panel.locator("details.queries > summary").click()
    second = panel.locator("li.query").nth(1)  # the first per-post COUNT(*)
    second.get_by_role("button", name="Explain query plan").click()

    expect(second.locator(".plan-slot .plan")).to_contain_text("blog_comment")
    assert panel.locator(".plan-slot .plan").count() == 1  # only that statement's slot
    page.close()


@pytest.fixture
def first_question(data: None) -> tuple[str, str, str]:
    lesson = get_catalog().by_slug[LESSON]
    question = lesson.quiz[0]
    wrong = next(c for i, c in enumerate(question.choices) if i != question.answer)
    return question.id, question.answer_text, wrong


def test_take_the_quiz_and_see_the_scale_chart(
    first_question: tuple[str, str, str], course_server: str, browser, screenshot_dir: Path
) -> None:
    question_id, right, wrong = first_question
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON}/")

    # The n-plus-one lesson draws its scale chart on its own, without a click. A test server has
    # no stored chart: it measures Production, which with three more test workers busy on the
    # same cores can take most of a minute.
    chart = page.locator("#scale-count-comments svg").first
    chart.wait_for(timeout=90_000)
    expect(page.locator("#scale-count-comments tr[data-dataset='large']")).to_be_visible()
    page.locator("#scale-count-comments").screenshot(path=str(screenshot_dir / "scale-chart.png"))

    question = page.locator(f"#q-{question_id}")
    question.get_by_label(wrong, exact=True).check()
    question.get_by_role("button", name="Check").click()
    expect(page.locator(f"#q-{question_id} .feedback")).to_contain_text("Not quite.")

    question = page.locator(f"#q-{question_id}")
    question.get_by_label(right, exact=True).check()
    question.get_by_role("button", name="Check again").click()
    feedback = page.locator(f"#q-{question_id} .feedback")
    expect(feedback).to_contain_text("Right.")
    # The first answer is the one scored: trying again teaches, it does not raise the score.
    expect(feedback).to_contain_text("The score keeps your first answer (not right)")
    expect(page.locator("#score-n-plus-one")).to_contain_text("0 /")
    page.locator(".quiz").screenshot(path=str(screenshot_dir / "quiz.png"))
    page.close()


def test_keyboard_runs_the_focused_snippet_and_moves_between_lessons(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON}/")

    page.focus("#card-count-comments-fixed .code")
    page.keyboard.press("r")
    expect(page.locator(".panel[data-snippet='count-comments.fixed']")).to_be_visible()

    page.keyboard.press("]")
    page.wait_for_url("**/lessons/select-related/**")
    page.keyboard.press("[")
    page.wait_for_url(f"**/lessons/{LESSON}/**")

    page.keyboard.press("p")
    expect(page.locator("html")).to_have_class("presenter")
    page.keyboard.press("p")
    page.close()


@pytest.fixture
def costs_on_medium(data: None) -> dict[str, int]:
    """What the bad side costs on medium, measured by the engine itself (before the browser)."""
    from lessons.engine import Task, run

    snippet = get_catalog().by_slug[LESSON].snippets["count-comments.bad"]
    [result] = run([Task(snippet.code, "medium")], learner="browser-costs")
    return {"rows": result.rows_fetched, "objects": result.objects_built_total}


def test_the_panel_shows_rows_objects_and_peak_memory(
    costs_on_medium: dict[str, int], course_server: str, browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{course_server}/lessons/{LESSON}/?dataset=medium")
    page.click("[data-run='count-comments.bad']")
    panel = page.locator(".panel[data-snippet='count-comments.bad']")
    panel.wait_for()

    def shown(cost: str) -> int:
        return int(
            panel.locator(f"[data-cost='{cost}'] [data-value]").first.get_attribute("data-value")
        )

    assert shown("rows") == costs_on_medium["rows"] > 0
    assert shown("objects") == costs_on_medium["objects"] > 0
    assert shown("memory") > 0
    expect(panel.locator("[data-cost='memory']")).to_contain_text("Peak memory")
    expect(panel.locator("[data-cost='rows']")).to_contain_text("SELECT")
    panel.screenshot(path=str(screenshot_dir / "panel-costs.png"))
    page.close()


def test_a_run_waiting_for_a_worker_says_it_is_queued(
    data: None, course_server: str, browser, settings
) -> None:
    """While every worker is taken, the card's running line says the run is queued and about how
    long; the run answers once a worker is free."""
    from lessons.engine import service

    slot = Path(settings.COURSE_RUN_DIR) / "slots" / "0.lock"
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON}/")
    # The lesson's chart measures itself as the page loads: let it end on the whole pool (on a busy
    # machine three datasets in one worker outlast a locator's wait), then narrow the pool to one.
    expect(page.locator(".charts").first).to_be_visible(timeout=60_000)
    settings.COURSE_RUN_WORKERS, settings.COURSE_RUN_QUEUE = 1, 4
    settings.COURSE_RUN_QUEUE_WAIT = 20
    card = page.locator("#card-count-comments-fixed")
    with service._try_lock(slot) as held:  # the whole pool busy with someone else's run
        assert held
        page.click("[data-run='count-comments.fixed']")
        expect(card.locator(".running")).to_contain_text("Queued for a free worker")
        expect(card.locator(".running")).to_contain_text("yours is next")
    expect(card.locator(".panel")).to_be_visible()
    expect(card.locator(".running")).not_to_contain_text("Queued")
    page.close()


def test_the_next_lesson_key_on_the_outline_opens_the_first_lesson(
    data: None, course_server: str, browser
) -> None:
    first = get_catalog().lessons[0]
    page = browser.new_page()
    page.goto(f"{course_server}/")
    page.keyboard.press("]")

    expect(page).to_have_url(re.compile(rf"/lessons/{first.slug}/(\?|$)"))
    page.close()


def test_copy_puts_a_snippets_code_on_the_clipboard(
    data: None, course_server: str, browser
) -> None:
    snippet = get_catalog().by_slug[LESSON].snippets["count-comments.bad"]
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto(f"{course_server}/lessons/{LESSON}/")
    card = page.locator("#card-count-comments-bad")
    card.get_by_role("button", name="Copy the code").click()

    expect(card.get_by_role("button", name="Copy the code")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == snippet.code.rstrip("\n")
    context.close()


def test_without_javascript_a_run_comes_back_by_a_redirect(
    data: None, course_server: str, browser
) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{course_server}/lessons/{LESSON}/")
    page.click("[data-run='count-comments.bad']")

    expect(page).to_have_url(re.compile(r"[?&]ran=[\w-]+#card-count-comments-bad$"))
    expect(page.locator(".panel[data-snippet='count-comments.bad']")).to_be_visible()
    page.reload()  # a GET: the run is shown again, not sent again
    expect(page.locator(".panel[data-snippet='count-comments.bad']")).to_be_visible()
    context.close()
