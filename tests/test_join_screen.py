"""The projector's join screen: the room's address in words and as a QR code, and who joined."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from lessons.learner.rooms import join, leave

ADDRESS = "http://192.168.1.20:8000/"


def test_the_join_screen_shows_the_address_the_workshop_printed(room: Any) -> None:
    room.address = ADDRESS
    room.save(update_fields=["address"])

    html = Client().get("/join/screen/").content.decode()

    assert f"data-address>{ADDRESS}<" in html
    assert '<svg aria-hidden="true"' in html and "0</strong> learners have joined" in html


def test_the_join_screen_gives_nothing_of_the_console_away(room: Any) -> None:
    html = Client().get("/join/screen/").content.decode()

    assert room.token not in html and "/console/" not in html


def test_the_join_screen_counts_who_joined_and_not_who_left(room: Any) -> None:
    join(room, "Ana", None)
    leaving = join(room, "Ben", None)
    leave(leaving)

    answer = Client().get("/join/screen/", headers={"HX-Request": "true"})

    assert answer.content.decode().startswith("<strong data-joined>1</strong> learner has joined")


def test_without_an_open_room_the_join_screen_says_so(settings: Any, data: None) -> None:
    settings.COURSE_ROOM = True
    from lessons.learner.models import Room

    Room.objects.filter(ended_at=None).delete()

    answer = Client().get("/join/screen/")

    assert answer.status_code == 404 and "No workshop is open" in answer.content.decode()


@pytest.mark.browser
def test_the_console_opens_a_join_screen_whose_code_reads_as_the_address(
    room: Any, course_server: str, browser: Any, screenshot_dir: Path
) -> None:
    import zxingcpp
    from PIL import Image

    token = room.token  # read before the browser starts (no ORM calls under its loop)
    screen = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    screen.goto(f"{course_server}/console/{token}/")
    screen.get_by_role("link", name="Join screen for the projector").click()
    expect(screen).to_have_url(f"{course_server}/join/screen/")

    shot = Image.open(io.BytesIO(screen.locator("[data-qr]").screenshot()))
    [code] = zxingcpp.read_barcodes(shot)
    assert code.text == f"{course_server}/" == screen.locator("[data-address]").inner_text()

    learner = browser.new_context().new_page()
    learner.goto(f"{course_server}/join/")
    learner.get_by_label("Your name").fill("Ana")
    learner.get_by_role("button", name="Join").click()
    expect(screen.locator("[data-joined]")).to_have_text("1", timeout=10_000)
    screen.screenshot(path=str(screenshot_dir / "join-screen.png"))
