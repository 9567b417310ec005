"""The help queue and code sent to the room in real browsers: an instructor's console and two
learners in contexts of their own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from lessons.catalog import get_catalog
from tests.conftest import browser_learner, replace_code

pytestmark = pytest.mark.browser

LESSON = get_catalog().by_slug["n-plus-one"]
CARD = "#card-count-comments-bad"


@pytest.fixture
def editing_room(room: Any) -> Any:
    from lessons.learner.models import Room

    Room.objects.filter(pk=room.pk).update(editing=True)
    return room


def learner(browser: Any, server: str, name: str) -> Any:
    return browser_learner(browser, server, name, LESSON.slug)


def test_a_help_request_reaches_the_queue_and_the_banners_follow(
    editing_room: Any, course_server: str, browser: Any
) -> None:
    token = editing_room.token
    instructor = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    instructor.goto(f"{course_server}/console/{token}/?lesson={LESSON.slug}")
    ana, ben = (learner(browser, course_server, name) for name in ("Ana", "Ben"))

    card = ana.locator(CARD)
    card.get_by_role("link", name="Edit").click()
    editor = card.locator(".cm-content")
    replace_code(ana, editor, "print(Post.objects.count())  # why one?")
    card.get_by_role("button", name="I'm stuck").click()
    expect(ana.locator("#room-banner .room-help")).to_have_text(
        re.compile("You are next in the help queue.")
    )
    ben.locator(CARD).get_by_role("button", name="I'm stuck").click()
    expect(ben.locator("#room-banner .room-help")).to_contain_text("You are 2nd in the help queue.")

    request = instructor.locator('.help-request[data-learner="Ana"]')  # within its 3 s poll
    expect(request.locator(".help-code")).to_contain_text("# why one?")
    request.get_by_role("button", name="Open").click()
    expect(ana.locator("#room-banner .room-help")).to_contain_text("The instructor is on the way.")
    expect(ben.locator("#room-banner .room-help")).to_contain_text("You are next")
    instructor.locator('.help-request[data-learner="Ana"]').get_by_role(
        "button", name="Done"
    ).click()
    expect(ana.locator("#room-banner .room-help")).to_have_count(0)
    expect(instructor.locator('.help-request[data-learner="Ana"]')).to_have_count(0)


def test_code_sent_to_the_room_opens_in_both_learners_playgrounds(
    editing_room: Any, course_server: str, browser: Any
) -> None:
    token = editing_room.token
    instructor = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    instructor.goto(f"{course_server}/console/{token}/")
    ana, ben = (learner(browser, course_server, name) for name in ("Ana", "Ben"))
    instructor.get_by_label(re.compile("Code every learner's banner offers")).fill(
        "print(Tag.objects.count())  # from the front"
    )
    instructor.get_by_role("button", name="Send to the room").click()
    for page in (ana, ben):
        link = page.locator("#room-banner").get_by_role("link", name="open it in the playground")
        link.click()  # offered within the banner's 4 s poll
        expect(page.locator(".cm-content")).to_contain_text("# from the front")
