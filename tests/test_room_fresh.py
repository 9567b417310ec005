"""A server process reads the open room at most once a second: what it changes itself it sees
at once, what another process changes within the second, and a room opened while none was is
seen at once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lessons.learner import rooms
from lessons.learner.models import Room

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh(settings: Any) -> None:
    settings.COURSE_ROOM_FRESH_SECONDS = 1
    rooms.forget_room()


def test_the_open_room_is_read_once_within_its_second(fresh: None) -> None:
    Room.objects.create(token="t")
    rooms.active_room()

    with CaptureQueriesContext(connection) as captured:
        again = rooms.active_room()

    assert again is not None and len(captured) == 0


def test_a_change_this_process_makes_is_seen_at_once(fresh: None) -> None:
    room = Room.objects.create(token="t")
    rooms.active_room()

    rooms.follow(room, "n-plus-one")

    seen = rooms.active_room()
    assert seen is not None and seen.following == "n-plus-one"


def test_a_change_another_process_makes_is_seen_after_the_second(
    fresh: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = Room.objects.create(token="t")
    rooms.active_room()
    Room.objects.filter(pk=room.pk).update(following="n-plus-one")  # as another server would
    now = rooms.time.monotonic()

    monkeypatch.setattr(rooms.time, "monotonic", lambda: now + 1.01)
    seen = rooms.active_room()

    assert seen is not None and seen.following == "n-plus-one"


def test_a_room_opened_while_none_was_is_seen_at_once(fresh: None) -> None:
    assert rooms.active_room() is None
    Room.objects.create(token="t")  # as another server would

    assert rooms.active_room() is not None


def test_each_caller_gets_a_room_of_its_own(fresh: None) -> None:
    Room.objects.create(token="t")
    first = rooms.active_room()
    assert first is not None
    first.following = "changed by one request"

    second = rooms.active_room()
    assert second is not None and second.following == ""
