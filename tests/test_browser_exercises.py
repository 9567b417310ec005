"""Solving an exercise in a real browser: a wrong attempt, a hint, a right attempt, and the
solved state on the outline."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog
from tests.conftest import replace_code

pytestmark = pytest.mark.browser

LESSON = get_catalog().by_slug["n-plus-one"]
EXERCISE = LESSON.exercises[0]
ARTICLE = f"#exercise-{EXERCISE.id.replace('.', '-')}"


def test_solve_an_exercise_after_a_wrong_attempt_and_a_hint(
    data: None, course_server: str, browser, screenshot_dir: Path
) -> None:
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON.slug}/")
    exercise = page.locator(ARTICLE)
    editor = exercise.locator(".cm-content")
    expect(editor).to_contain_text(EXERCISE.start.splitlines()[0])

    replace_code(page, editor, EXERCISE.start)
    exercise.get_by_role("button", name="Check").click()
    verdict = exercise.locator(".verdict")
    expect(verdict).to_have_attribute("data-passed", "false")
    expect(verdict).to_contain_text("budget 1")

    second_hint = exercise.locator("details.hint").nth(1)
    expect(second_hint).to_be_hidden()  # hints open one at a time
    exercise.locator("details.hint summary").first.click()
    expect(exercise.locator("details.hint").first).to_contain_text(EXERCISE.hints[0])
    expect(second_hint).to_be_visible()

    replace_code(page, editor, EXERCISE.solution)
    exercise.get_by_role("button", name="Check").click()
    expect(verdict).to_have_attribute("data-passed", "true", timeout=15_000)
    expect(page.locator("#lesson-progress")).to_contain_text("Exercises solved: 1 /")
    exercise.screenshot(path=str(screenshot_dir / "exercise-solved.png"))

    page.goto(f"{course_server}/")
    expect(page.locator(f"a[href*='/lessons/{LESSON.slug}/']").locator("..")).to_contain_text(
        "solved 1/"
    )
    page.close()


AGGREGATED = get_catalog().by_slug["n-plus-one"].exercises[1]  # posts-per-author: rows budgeted


def test_a_technique_attempt_is_told_which_cost_is_over(
    data: None, course_server: str, browser, screenshot_dir: Path
) -> None:
    attempt = next(a for a in AGGREGATED.wrong if a.reason == "technique")
    page = browser.new_page(viewport={"width": 1300, "height": 1000})
    page.goto(f"{course_server}/lessons/{LESSON.slug}/")
    exercise = page.locator(f"#exercise-{AGGREGATED.id.replace('.', '-')}")
    editor = exercise.locator(".cm-content")
    expect(editor).to_contain_text(AGGREGATED.start.splitlines()[0])

    replace_code(page, editor, attempt.code)
    exercise.get_by_role("button", name="Check").click()

    verdict = exercise.locator(".verdict")
    expect(verdict).to_have_attribute("data-passed", "false", timeout=15_000)
    expect(verdict).to_contain_text("rows from the database")
    expect(verdict.locator(".cost--over[data-cost='rows']").first).to_be_visible()
    exercise.screenshot(path=str(screenshot_dir / "exercise-technique.png"))
    page.close()


def test_the_code_written_for_an_exercise_survives_a_reload(
    data: None, course_server: str, browser
) -> None:
    page = browser.new_page()
    page.goto(f"{course_server}/lessons/{LESSON.slug}/")
    editor = page.locator(ARTICLE).locator(".cm-content")
    replace_code(page, editor, "posts = 'mine, half written'\n")

    page.reload()

    expect(page.locator(ARTICLE).locator(".cm-content")).to_contain_text("mine, half written")
    page.close()
