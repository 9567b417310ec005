"""Predict, then run, and vote, discuss, vote again, in real browsers: an instructor's console
and two learners in contexts of their own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog
from lessons.datasets import stats
from tests.conftest import browser_learner

pytestmark = pytest.mark.browser

LESSON = get_catalog().by_slug["n-plus-one"]
BAD = LESSON.snippets["count-comments.bad"]  # expect 1 + posts
QUESTION = LESSON.quiz[0]
WRONG = next(i for i in range(len(QUESTION.choices)) if i != QUESTION.answer)


@pytest.fixture
def posts(data: None) -> int:
    """Laptop's posts, read before the browser starts (no ORM calls under its loop)."""
    return stats("tiny").counts["posts"]


def learner(browser: Any, server: str, name: str) -> Any:
    return browser_learner(browser, server, name, LESSON.slug)


def console(browser: Any, server: str, token: str) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.goto(f"{server}/console/{token}/?lesson={LESSON.slug}")
    return page


def predict_and_run(page: Any, guess: str) -> Any:
    card = page.locator("#card-count-comments-bad")
    card.get_by_label(re.compile("how many queries will this send")).fill(guess)
    card.get_by_role("button", name="Run").click()
    return card


def test_the_rooms_predictions_fill_the_consoles_histogram(
    room: Any, posts: int, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    token = room.token
    instructor = console(browser, course_server, token)
    ana, ben = (learner(browser, course_server, name) for name in ("Ana", "Ben"))

    card = predict_and_run(ana, "3")
    expect(card.locator(".prediction")).to_have_attribute("data-prediction", "off")
    expect(card.locator(".prediction")).to_contain_text("grows with the data")
    card = predict_and_run(ben, "1 + posts")
    expect(card.locator(".prediction")).to_have_attribute("data-prediction", "exact")
    expect(card.locator(".panel")).to_have_attribute("data-query-count", str(posts + 1))

    # The console asks again every 2 s: both predictions show without a reload, the count hidden.
    histogram = instructor.locator(f'[data-snippet="{BAD.id}"][data-dataset="tiny"]')
    expect(histogram).to_have_attribute("data-predicted", "2")
    expect(histogram.locator('.bar[data-guess="3"]')).to_have_attribute("data-count", "1")
    expect(histogram.locator(f'.bar[data-guess="{posts + 1}"]')).to_have_attribute(
        "data-count", "1"
    )
    expect(histogram.locator("[data-measured]")).to_have_count(0)
    histogram.get_by_role("button", name="Reveal the count").click()
    revealed = instructor.locator(f'[data-snippet="{BAD.id}"][data-dataset="tiny"]')
    expect(revealed.locator("[data-measured]")).to_have_text(str(posts + 1))
    expect(revealed.locator(".bar.is-right")).to_have_attribute("data-guess", str(posts + 1))
    instructor.screenshot(path=str(screenshot_dir / "console-predictions.png"), full_page=True)
    ana.screenshot(path=str(screenshot_dir / "prediction.png"))


def test_the_prediction_can_be_skipped_with_the_keyboard(
    room: Any, course_server: str, browser: Any
) -> None:
    ana = learner(browser, course_server, "Ana")
    field = ana.locator("#card-count-comments-bad").get_by_label(
        re.compile("how many queries will this send")
    )
    field.focus()
    ana.keyboard.press("Tab")  # past the formula names, to Run
    ana.keyboard.press("Tab")
    expect(ana.locator("#run-card-count-comments-bad")).to_be_focused()
    ana.keyboard.press("Enter")
    panel = ana.locator("#card-count-comments-bad .panel")
    expect(panel).to_have_attribute("data-query-count", re.compile(r"^\d+$"))
    expect(ana.locator("#card-count-comments-bad .prediction")).to_have_count(0)


def choose(page: Any, text: str) -> None:
    question = page.locator(f"#q-{QUESTION.id}")
    question.get_by_label(text, exact=True).check()
    question.get_by_role("button", name=re.compile("^Check")).click()


def test_a_vote_a_second_vote_and_both_distributions(
    room: Any, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    token = room.token
    instructor = console(browser, course_server, token)
    ana, ben = (learner(browser, course_server, name) for name in ("Ana", "Ben"))
    clicker = instructor.locator(f"#clicker-{QUESTION.id}")
    clicker.get_by_role("button", name="Open a vote").click()
    expect(instructor.locator(f"#clicker-{QUESTION.id} [data-vote-open]")).to_have_text(
        "Vote 1 is open."
    )

    wrong, right = QUESTION.choices[WRONG], QUESTION.answer_text
    for page in (ana, ben):
        page.reload()  # the page drawn before the vote opened grades at once
        choose(page, wrong)
        expect(page.locator(f"#q-{QUESTION.id} .feedback")).to_contain_text("Your vote is in")
        expect(page.locator(f"#q-{QUESTION.id} .is-answer")).to_have_count(0)

    table = instructor.locator(f"#clicker-{QUESTION.id} .vote-rounds")
    expect(table.locator('td[data-round="1"][data-count="2"]')).to_have_count(1)
    instructor.locator(f"#clicker-{QUESTION.id}").get_by_role("button", name="Close vote 1").click()
    instructor.locator(f"#clicker-{QUESTION.id}").get_by_role("button", name="Vote again").click()
    expect(instructor.locator(f"#clicker-{QUESTION.id} [data-vote-open]")).to_have_text(
        "Vote 2 is open."
    )

    choose(ana, right)  # convinced in the discussion
    choose(ben, wrong)
    expect(ana.locator(f"#q-{QUESTION.id} .feedback")).to_contain_text("vote 2")
    table = instructor.locator(f"#clicker-{QUESTION.id} .vote-rounds")
    right_row = table.locator("tbody tr").nth(QUESTION.answer)
    expect(right_row.locator('td[data-round="2"]')).to_have_attribute("data-count", "1")
    expect(right_row.locator('td[data-round="1"]')).to_have_attribute("data-count", "0")
    wrong_row = table.locator("tbody tr").nth(WRONG)
    expect(wrong_row.locator('td[data-round="1"]')).to_have_attribute("data-count", "2")
    expect(wrong_row.locator('td[data-round="2"]')).to_have_attribute("data-count", "1")
    instructor.locator(f"#clicker-{QUESTION.id}").get_by_role("button", name="Close vote 2").click()
    instructor.locator(f"#clicker-{QUESTION.id}").get_by_role(
        "button", name="Reveal the answer"
    ).click()
    expect(instructor.locator(f"#clicker-{QUESTION.id} tr.is-right")).to_have_count(1)
    instructor.locator(f"#clicker-{QUESTION.id}").screenshot(
        path=str(screenshot_dir / "console-votes.png")
    )
