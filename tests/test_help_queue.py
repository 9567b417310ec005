"""The help queue and code sent to the room: "I'm stuck" queues the learner's code for the
instructor, whose console opens it and marks it done while the learner's banner follows."""

from __future__ import annotations

import csv
import io

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from lessons.catalog import get_catalog
from lessons.learner.models import HelpRequest, Room
from tests.conftest import join_room

LESSON = get_catalog().by_slug["n-plus-one"]
SNIPPET = LESSON.snippets["count-comments.bad"]


def stuck(client: Client, code: str | None = None, **extra: str) -> object:
    data = {"snippet": SNIPPET.id, "dataset": "tiny", **extra}
    if code is not None:
        data["code"] = code
    return client.post(f"/lessons/{LESSON.slug}/help/", data)


def instructor(room: Room) -> Client:
    client = Client()
    client.get(f"/console/{room.token}/")
    return client


def queue_html(room: Room) -> str:
    return Client().get(f"/console/{room.token}/help/").content.decode()


def banner(client: Client) -> str:
    return client.get("/room/banner/?here=/").content.decode()


def answer(room: Room, asked: HelpRequest, do: str) -> None:
    instructor(room).post(f"/console/{room.token}/help/answer/", {"request": asked.pk, "do": do})


def test_a_request_carries_the_learners_code_to_the_queue(room: Room) -> None:
    stuck(join_room("Ana"), "print(Post.objects.count())")
    html = queue_html(room)
    assert 'data-learner="Ana"' in html
    assert "print(Post.objects.count())" in html


def test_a_card_without_its_editor_sends_the_lessons_code(room: Room) -> None:
    stuck(join_room("Ana"))
    assert HelpRequest.objects.get().code == SNIPPET.code


def test_asking_again_updates_the_request_and_keeps_its_place(room: Room) -> None:
    ana, ben = join_room("Ana"), join_room("Ben")
    stuck(ana, "first")
    stuck(ben, "ben's")
    stuck(ana, "second")
    assert list(HelpRequest.objects.order_by("asked_at").values_list("code", flat=True)) == [
        "second",
        "ben's",
    ]


def test_the_banner_says_where_the_learner_stands(room: Room) -> None:
    ana, ben = join_room("Ana"), join_room("Ben")
    stuck(ana, "a")
    stuck(ben, "b")
    assert "You are next in the help queue." in banner(ana)
    assert "You are 2nd in the help queue." in banner(ben)


def test_opening_tells_the_learner_and_done_clears_the_banner(room: Room) -> None:
    ana, ben = join_room("Ana"), join_room("Ben")
    stuck(ana, "a")
    stuck(ben, "b")
    asked = HelpRequest.objects.get(learner__name="Ana")
    answer(room, asked, "open")
    assert "The instructor is on the way." in banner(ana)
    assert "You are next in the help queue." in banner(ben)  # an opened one is not ahead
    answer(room, asked, "done")
    assert "help queue" not in banner(ana) and "on the way" not in banner(ana)
    assert 'data-learner="Ana"' not in queue_html(room)


def test_a_banner_of_a_learner_who_has_not_asked_reads_the_queue_only_with_the_learner(
    room: Room,
) -> None:
    ana = join_room("Ana")
    with CaptureQueriesContext(connection) as captured:
        banner(ana)
    reads = [q["sql"] for q in captured.captured_queries if "lessons_helprequest" in q["sql"]]
    assert len(reads) == 1 and "lessons_learner" in reads[0]


def queue_reads(captured: CaptureQueriesContext) -> int:
    return sum(q["sql"].startswith('SELECT "lessons_helprequest"') for q in captured)


def test_a_banner_of_a_learner_who_asked_reads_the_queue_once(room: Room) -> None:
    ana = join_room("Ana")
    stuck(ana, "a")
    with CaptureQueriesContext(connection) as captured:
        drawn = banner(ana)

    assert "You are next in the help queue." in drawn
    assert queue_reads(captured) == 1


def test_waiting_learners_banners_share_a_read_of_the_queue(room: Room) -> None:
    ana, ben = join_room("Ana"), join_room("Ben")
    stuck(ana, "a")
    stuck(ben, "b")
    with CaptureQueriesContext(connection) as captured:
        drawn = banner(ana), banner(ben)

    assert "You are next in the help queue." in drawn[0]
    assert "You are 2nd in the help queue." in drawn[1]
    assert queue_reads(captured) == 1


def test_a_learner_can_cancel_their_request(room: Room) -> None:
    ana = join_room("Ana")
    stuck(ana, "a")
    ana.post("/room/help/cancel/")
    assert not HelpRequest.objects.exists()


def test_too_much_code_is_refused(room: Room) -> None:
    response = stuck(join_room("Ana"), "x" * 20_001)
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert not HelpRequest.objects.exists()


def test_an_unknown_card_is_refused(room: Room) -> None:
    client = join_room("Ana")
    response = client.post(f"/lessons/{LESSON.slug}/help/", {"snippet": "nope"})
    assert response.status_code == 404


def test_outside_a_room_there_is_no_help_queue(data: None) -> None:
    response = Client().post(f"/lessons/{LESSON.slug}/help/", {"snippet": SNIPPET.id})
    assert response.status_code == 403


def test_the_queue_needs_the_token(room: Room) -> None:
    stuck(join_room("Ana"), "secret code")
    response = join_room("Ben").get("/console/not-the-token/help/")
    assert response.status_code == 404


def test_a_wrong_request_number_is_a_404(room: Room) -> None:
    response = instructor(room).post(
        f"/console/{room.token}/help/answer/", {"request": "99999", "do": "done"}
    )
    assert response.status_code == 404


def test_opening_a_request_the_learner_just_cancelled_redraws_the_queue_saying_so(
    room: Room,
) -> None:
    ana = join_room("Ana")
    stuck(ana, "a")
    asked = HelpRequest.objects.get()
    ana.post("/room/help/cancel/")

    response = instructor(room).post(
        f"/console/{room.token}/help/answer/",
        {"request": asked.pk, "do": "open"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "no longer in the queue" in response.content.decode()
    assert 'id="live-help"' in response.content.decode()


def test_sent_code_is_offered_in_every_banner_and_opens_in_the_playground(room: Room) -> None:
    Room.objects.filter(pk=room.pk).update(editing=True)
    ana = join_room("Ana")
    instructor(room).post(f"/console/{room.token}/send/", {"code": "print('from the front')"})
    assert "open it in the playground" in banner(ana)
    page = ana.get("/playground/?from=room").content.decode()
    assert "print(&#x27;from the front&#x27;)" in page or "print('from the front')" in page


def test_empty_code_is_not_sent(room: Room) -> None:
    response = instructor(room).post(f"/console/{room.token}/send/", {"code": "  "})
    assert response.status_code == 400


def test_a_request_not_shared_is_never_sent_to_the_room(room: Room) -> None:
    stuck(join_room("Ana"), "mine")
    asked = HelpRequest.objects.get()
    response = instructor(room).post(f"/console/{room.token}/send/", {"request": asked.pk})
    assert response.status_code == 400
    assert Room.objects.get(pk=room.pk).sent_code == ""


def test_a_shared_request_can_be_sent_to_the_room(room: Room) -> None:
    stuck(join_room("Ana"), "ours", shareable="1")
    asked = HelpRequest.objects.get()
    instructor(room).post(f"/console/{room.token}/send/", {"request": asked.pk})
    assert Room.objects.get(pk=room.pk).sent_code == "ours"


def test_the_export_lists_help_requests(room: Room) -> None:
    stuck(join_room("Ana"), "a")
    text = Client().get(f"/console/{room.token}/export.csv").content.decode()
    section = text.split("\r\n\r\nhelp requests\r\n", 1)[1]
    (row,) = csv.DictReader(io.StringIO(section))
    assert (row["learner"], row["place"], row["result"]) == ("Ana", SNIPPET.id, "not run yet")
