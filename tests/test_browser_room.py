"""A workshop in a real browser: a learner joins and answers, the instructor's console shows the
answer on the clicker as it arrives, and follow-me moves the learner's banner."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog

pytestmark = pytest.mark.browser

LESSON = get_catalog().by_slug["n-plus-one"]
QUESTION = LESSON.quiz[0]
NEXT = get_catalog().by_slug["select-related"]


def test_an_answer_reaches_the_clicker_and_follow_me_moves_the_banner(
    room: Any, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    token = room.token  # read before the browser starts (no ORM calls under its loop)
    learner = browser.new_context().new_page()
    learner.goto(f"{course_server}/lessons/{LESSON.slug}/")
    expect(learner).to_have_url(re.compile(r"/join/\?next="))
    learner.get_by_label("Your name").fill("Ana")
    learner.get_by_role("button", name="Join").click()
    expect(learner).to_have_url(f"{course_server}/lessons/{LESSON.slug}/")

    instructor = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    instructor.goto(f"{course_server}/console/{token}/?lesson={LESSON.slug}")
    clicker = instructor.locator(f"#clicker-{QUESTION.id}")
    expect(clicker).to_have_attribute("data-answered", "0")

    question = learner.locator(f"#q-{QUESTION.id}")
    question.get_by_label(QUESTION.answer_text).check()
    question.get_by_role("button", name="Check").click()
    expect(question).to_contain_text("Right.")

    # The console asks again every 2 s: the answer shows without a reload, not yet marked right.
    expect(clicker).to_have_attribute("data-answered", "1")
    right_bar = clicker.locator(".bar").nth(QUESTION.answer)
    expect(right_bar).to_have_attribute("data-count", "1")
    expect(clicker.locator(".bar.is-right")).to_have_count(0)
    clicker.get_by_role("button", name="Reveal the answer").click()
    expect(instructor.locator(f"#clicker-{QUESTION.id} .bar.is-right")).to_have_count(1)
    instructor.screenshot(path=str(screenshot_dir / "console.png"), full_page=True)

    instructor.get_by_label("Lesson", exact=True).select_option(NEXT.slug)
    instructor.get_by_role("button", name="Follow me to it").click()
    expect(instructor.locator("#teaching")).to_contain_text(NEXT.title)

    # The learner's banner asks again every 4 s.
    follow = learner.locator("#room-banner [data-follow-link]")
    expect(follow).to_have_text(NEXT.title)
    learner.screenshot(path=str(screenshot_dir / "room-banner.png"))
    follow.click()
    expect(learner).to_have_url(f"{course_server}/lessons/{NEXT.slug}/")
    expect(learner.locator("#room-banner")).to_contain_text(
        "You are on the lesson the instructor is teaching"
    )


def test_the_presenter_view_steps_with_the_keyboard_and_runs_a_pair(
    room: Any, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    token = room.token
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{course_server}/console/{token}/?lesson={LESSON.slug}")
    page.get_by_role("link", name=f"Present {LESSON.title}").click()
    # The projected address bar shows no token.
    expect(page).to_have_url(f"{course_server}/console/present/{LESSON.slug}/1/")
    page.wait_for_load_state()  # htmx is in place, or Run would post the page without it

    page.get_by_role("button", name="Run").first.click()
    expect(page.locator(".panel").first).to_have_attribute("data-query-count", re.compile(r"^\d+$"))
    page.screenshot(path=str(screenshot_dir / "presenter.png"))
    page.locator("body").click(position={"x": 5, "y": 5})  # focus out of the card's controls
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(rf"/present/{LESSON.slug}/2/"))
    page.wait_for_load_state()  # the new page's key handler is in place
    page.keyboard.press("PageUp")
    expect(page).to_have_url(re.compile(rf"/present/{LESSON.slug}/1/"))
