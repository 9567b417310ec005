"""A room: learners join by name (unique, changeable), leave and come back on the same browser,
and need to have joined before anything else; follow-me reaches them through the banner."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from lessons.catalog import get_catalog
from lessons.learner import rooms
from lessons.learner.models import Learner
from lessons.learner.names import name_key
from tests.conftest import join_room

LESSON = get_catalog().by_slug["n-plus-one"]
LESSON_URL = reverse("lessons:detail", args=[LESSON.slug])


def test_joining_records_the_learner_in_the_room(room: Any) -> None:
    join_room("Ana")

    assert list(Learner.objects.filter(room=room).values_list("name", flat=True)) == ["Ana"]


def test_joining_takes_the_learner_where_they_were_going(room: Any) -> None:
    response = Client().post(reverse("lessons:join"), {"name": "Ana", "next": LESSON_URL})

    assert response["Location"] == LESSON_URL


def test_joining_refuses_to_send_the_learner_off_site(room: Any) -> None:
    response = Client().post(reverse("lessons:join"), {"name": "Ana", "next": "https://x.example/"})

    assert response["Location"] == reverse("lessons:outline")


def test_a_name_is_unique_in_the_room_whatever_the_case(room: Any) -> None:
    join_room("Ana")

    response = Client().post(reverse("lessons:join"), {"name": "  ANA "})

    assert response.status_code == 409
    assert "already called" in response.content.decode()
    assert Learner.objects.filter(room=room).count() == 1


# Each looks like "Anna" on the console: a Cyrillic capital A; Cyrillic capital and small a; Greek
# capitals; full-width letters (NFKC folds them).
LOOK_ALIKES = [
    "\u0410nna",
    "\u0410nn\u0430",
    "\u0391\u039d\u039d\u0391",
    "\uff21\uff4e\uff4e\uff41",
]


@pytest.mark.parametrize("name", LOOK_ALIKES)
def test_a_name_that_looks_like_a_taken_one_is_taken(room: Any, name: str) -> None:
    join_room("Anna")

    response = Client().post(reverse("lessons:join"), {"name": name})

    assert response.status_code == 409
    message = escape(f"Someone in this room is already called {name!r}.")
    assert message in response.content.decode()
    assert Learner.objects.filter(room=room).count() == 1


def test_a_learner_cannot_rename_to_a_look_alike_of_another_name(room: Any) -> None:
    join_room("Anna")
    bob = join_room("Bob")

    response = bob.post(reverse("lessons:join"), {"name": LOOK_ALIKES[0]})

    assert response.status_code == 409
    assert sorted(Learner.objects.filter(room=room).values_list("name", flat=True)) == [
        "Anna",
        "Bob",
    ]


def test_names_that_do_not_look_alike_stay_apart(room: Any) -> None:
    join_room("Anna")

    # Cyrillic "Анна" is written with н, which is no Latin n.
    for name in ("\u0410\u043d\u043d\u0430", "Ana", "Anna B."):
        assert Client().post(reverse("lessons:join"), {"name": name}).status_code == 302
    assert Learner.objects.filter(room=room).count() == 4


def test_a_room_that_already_holds_look_alikes_keeps_them_all(room: Any) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("lessons.migrations.0003_learner_name_key")
    first = Learner.objects.create(room=room, name="Anna", name_key="old-1")
    second = Learner.objects.create(room=room, name=LOOK_ALIKES[0], name_key="old-2")

    migration.fill_name_keys(apps, None)

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.name_key, second.name_key) == (name_key("Anna"), str(second.pk))
    response = Client().post(reverse("lessons:join"), {"name": LOOK_ALIKES[1]})
    assert response.status_code == 409


def test_an_empty_name_is_refused_with_a_message(room: Any) -> None:
    response = Client().post(reverse("lessons:join"), {"name": "   "})

    assert response.status_code == 400
    assert "Pick a name" in response.content.decode()


def test_a_name_longer_than_the_limit_is_refused(room: Any) -> None:
    response = Client().post(reverse("lessons:join"), {"name": "x" * 41})

    assert response.status_code == 400
    assert Learner.objects.filter(room=room).count() == 0


def test_a_learner_changes_name_and_stays_the_same_learner(room: Any) -> None:
    ana = join_room("Ana")
    pk = ana.session["learner"]

    ana.post(reverse("lessons:join"), {"name": "Ana B."})

    assert Learner.objects.get(pk=pk).name == "Ana B."
    assert Learner.objects.filter(room=room).count() == 1


def test_a_learner_who_left_comes_back_with_their_progress(room: Any) -> None:
    ana = join_room("Ana")
    ana.post(reverse("lessons:opened", args=[LESSON.slug]))
    ana.post(reverse("lessons:room-leave"))
    assert ana.get(LESSON_URL).status_code == 302  # gone: the pages ask to join again

    page = ana.get(reverse("lessons:join")).content.decode()
    ana.post(reverse("lessons:join"), {"name": "Ana"})

    assert "Come back" in page and 'value="Ana"' in page
    outline = ana.get(reverse("lessons:outline")).content.decode()
    assert f"Lessons opened: <strong>1 / {len(get_catalog().lessons)}</strong>" in outline


def test_coming_back_gets_a_new_session_key_and_keeps_the_progress(room: Any) -> None:
    ana = join_room("Ana")
    ana.post(reverse("lessons:opened", args=[LESSON.slug]))
    ana.post(reverse("lessons:room-leave"))
    before = ana.session.session_key

    ana.post(reverse("lessons:join"), {"name": "Ana"})

    assert ana.session.session_key != before
    assert Session.objects.filter(session_key=before).count() == 0
    outline = ana.get(reverse("lessons:outline")).content.decode()
    assert f"Lessons opened: <strong>1 / {len(get_catalog().lessons)}</strong>" in outline


def test_changing_name_gets_a_new_session_key(room: Any) -> None:
    ana = join_room("Ana")
    before = ana.session.session_key

    ana.post(reverse("lessons:join"), {"name": "Ana B."})

    assert ana.session.session_key != before


def test_the_name_of_a_learner_who_left_is_still_theirs(room: Any) -> None:
    ana = join_room("Ana")
    ana.post(reverse("lessons:room-leave"))

    response = Client().post(reverse("lessons:join"), {"name": "ana"})

    assert response.status_code == 409


def test_pages_send_a_learner_who_has_not_joined_to_the_join_page(room: Any) -> None:
    response = Client().get(LESSON_URL)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('lessons:join')}?next={LESSON_URL}"


def test_the_api_refuses_a_learner_who_has_not_joined_in_json(room: Any) -> None:
    response = Client().post(reverse("lessons:api-run-code"), {"code": "print(1)"})

    assert response.status_code == 403
    assert response.json()["error"]["type"] == "JoinFirst"


def test_a_joined_learner_reads_the_lessons(room: Any) -> None:
    assert join_room("Ana").get(LESSON_URL).status_code == 200


def test_a_learner_of_an_ended_room_cannot_join_it_again(room: Any) -> None:
    rooms.end(room)

    response = Client().post(reverse("lessons:join"), {"name": "Ana"})

    assert response.status_code == 404
    assert "No workshop is open" in response.content.decode()


def test_on_ones_own_machine_nobody_joins(data: None) -> None:
    assert Client().get(LESSON_URL).status_code == 200


def test_the_banner_points_at_the_lesson_being_taught(room: Any) -> None:
    ana = join_room("Ana")
    rooms.follow(room, LESSON.slug)

    banner = ana.get(reverse("lessons:room-banner"), {"here": "/"}).content.decode()

    assert f'href="{LESSON_URL}" data-follow-link' in banner
    assert f'data-following="{LESSON.slug}"' in banner


def test_the_banner_says_so_when_the_learner_is_on_that_lesson(room: Any) -> None:
    ana = join_room("Ana")
    rooms.follow(room, LESSON.slug)

    banner = ana.get(reverse("lessons:room-banner"), {"here": LESSON_URL}).content.decode()

    assert "You are on the lesson the instructor is teaching" in banner


def test_each_page_carries_the_banner_that_refreshes_itself(room: Any) -> None:
    html = join_room("Ana").get(LESSON_URL).content.decode()

    assert 'id="room-banner"' in html and 'hx-trigger="every 4s"' in html


def test_editing_follows_the_room_switch(room: Any) -> None:
    ana = join_room("Ana")
    assert ana.get(reverse("lessons:playground")).status_code == 403

    rooms.set_editing(room, True)

    assert ana.get(reverse("lessons:playground")).status_code == 200


def test_the_admin_is_not_served_in_a_room(room: Any) -> None:
    from importlib import reload

    import course.urls

    reloaded = reload(course.urls)
    try:
        assert not any(str(p.pattern) == "admin/" for p in reloaded.urlpatterns)
    finally:
        from django.test import override_settings

        with override_settings(COURSE_ROOM=False):
            reload(course.urls)


def test_servers_opening_the_room_at_once_open_one_room(data: None) -> None:
    from django.db import connections
    from django.utils import timezone

    from lessons.learner.models import Room

    Room.objects.filter(ended_at=None).update(ended_at=timezone.now())  # a test's leftovers
    start = threading.Barrier(6)
    opened: list[tuple[Room, bool]] = []

    def open_as_a_server() -> None:
        start.wait()
        try:
            opened.append(rooms.open_room(editing=False))
        finally:
            connections.close_all()

    servers = [threading.Thread(target=open_as_a_server) for _ in range(6)]
    for server in servers:
        server.start()
    for server in servers:
        server.join()

    assert len({room.pk for room, _ in opened}) == 1
    assert [new for _, new in opened].count(True) == 1
    Room.objects.filter(pk=opened[0][0].pk).delete()
