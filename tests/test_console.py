"""The instructor's console: only with the room's token; the room by lesson, the clicker, where
the room is stuck, follow-me, the switches, the export and the presenter view."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from lessons.learner.models import Answer, Learner, Room
from lessons.learner.quiz import choice_order
from tests.conftest import join_room, progress_of

LESSON = get_catalog().by_slug["n-plus-one"]
QUESTION = LESSON.quiz[0]
WRONG = next(i for i in range(len(QUESTION.choices)) if i != QUESTION.answer)
EXERCISE = LESSON.exercises[0]


def console_url(room: Room, name: str = "console", *args: object) -> str:
    return reverse(f"console:{name}", args=[room.token, *args])


def answer(client: Client, original: int, question: Any = QUESTION) -> None:
    position = choice_order(progress_of(client).seed, question).index(original)
    response = client.post(
        reverse("lessons:quiz-answer", args=[LESSON.slug]),
        {"question": question.id, "choice": position},
    )
    assert response.status_code == 302


def bars(html: str, question_id: str = QUESTION.id) -> list[int]:
    article = html.split(f'data-question="{question_id}"', 1)[1].split("</article>", 1)[0]
    return [int(n) for n in re.findall(r'class="bar[^"]*" data-count="(\d+)"', article)]


PRIVATE = [
    ("console", ()),
    ("learners", ()),
    ("clicker", ()),
    ("stuck", ()),
    ("predictions", ()),
    ("export", ()),
    ("present-with-token", (LESSON.slug, 1)),
]


@pytest.mark.parametrize(("name", "args"), PRIVATE)
def test_a_learner_without_the_token_gets_404(room: Room, name: str, args: tuple[Any]) -> None:
    ana = join_room("Ana")
    url = reverse(f"console:{name}", args=["not-the-token", *args])

    assert ana.get(url).status_code == 404


@pytest.mark.parametrize("name", ["follow", "reveal", "editing", "reset", "end"])
def test_the_switches_refuse_a_wrong_token(room: Room, name: str) -> None:
    response = join_room("Ana").post(reverse(f"console:{name}", args=["nope"]), {"on": "1"})

    assert response.status_code == 404
    room.refresh_from_db()
    assert (room.editing, room.ended_at) == (False, None)


def test_a_learner_sees_only_their_own_answers(room: Room) -> None:
    ana, ben = join_room("Ana"), join_room("Ben")
    answer(ana, WRONG)

    page = ben.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert "Not quite" not in page and "is-chosen-wrong" not in page
    assert "Ana" not in page


def test_the_console_lists_learners_with_their_progress(room: Room) -> None:
    ana = join_room("Ana")
    ana.post(reverse("lessons:run", args=[LESSON.slug]), {"snippet": "count-comments.bad"})
    answer(ana, QUESTION.answer)

    html = Client().get(console_url(room)).content.decode()

    row = html.split('data-learner="Ana"', 1)[1].split("</tr>", 1)[0]
    cell = row.split(f'data-lesson="{LESSON.slug}"', 1)[0].rsplit("<td", 1)[1]
    assert 'data-quiz="1/1"' in row
    assert "is-ran" in cell


def test_the_console_draws_only_the_lessons_a_learner_touched_in_full(room: Room) -> None:
    ana = join_room("Ana")
    ana.post(reverse("lessons:run", args=[LESSON.slug]), {"snippet": "count-comments.bad"})

    html = Client().get(console_url(room)).content.decode()

    row = html.split('data-learner="Ana"', 1)[1].split("</tr>", 1)[0]
    assert re.findall(r'data-lesson="([^"]+)"', row) == [LESSON.slug]
    assert row.count('<td class="cell"></td>') == len(get_catalog().lessons) - 1


def test_the_clicker_counts_the_answers_each_learner_holds(room: Room) -> None:
    for name, choice in [("Ana", QUESTION.answer), ("Ben", WRONG), ("Cy", WRONG)]:
        answer(join_room(name), choice)

    html = Client().get(console_url(room, "clicker"), {"lesson": LESSON.slug}).content.decode()

    expected = [0] * len(QUESTION.choices)
    expected[QUESTION.answer] += 1
    expected[WRONG] += 2
    assert bars(html) == expected


def test_a_changed_answer_moves_in_the_clicker(room: Room) -> None:
    ana = join_room("Ana")
    answer(ana, WRONG)
    answer(ana, QUESTION.answer)

    html = Client().get(console_url(room, "clicker"), {"lesson": LESSON.slug}).content.decode()

    assert sum(bars(html)) == 1 and bars(html)[QUESTION.answer] == 1


def test_the_right_answer_is_hidden_until_revealed(room: Room) -> None:
    answer(join_room("Ana"), QUESTION.answer)
    instructor = Client()
    url = console_url(room, "clicker")

    before = instructor.get(url, {"lesson": LESSON.slug}).content.decode()
    instructor.post(
        console_url(room, "reveal"), {"lesson": LESSON.slug, "question": QUESTION.id, "shown": "1"}
    )
    after = instructor.get(url, {"lesson": LESSON.slug}).content.decode()

    assert (
        "is-right"
        not in before.split(f'data-question="{QUESTION.id}"', 1)[1].split("</article>")[0]
    )
    assert "is-right" in after.split(f'data-question="{QUESTION.id}"', 1)[1].split("</article>")[0]


def test_an_unchanged_live_part_answers_204(room: Room) -> None:
    instructor = Client()
    url = console_url(room, "clicker")
    first = instructor.get(url, {"lesson": LESSON.slug}).content.decode()
    version = re.search(r'data-version="([0-9a-f]+)"', first)
    assert version

    same = instructor.get(url, {"lesson": LESSON.slug, "v": version.group(1)})
    answer(join_room("Ana"), WRONG)
    changed = instructor.get(url, {"lesson": LESSON.slug, "v": version.group(1)})

    assert same.status_code == 204
    assert changed.status_code == 200


def test_the_stuck_list_names_the_most_common_failure(room: Room) -> None:
    room.editing = True
    room.save()
    ana = join_room("Ana")
    check = reverse("lessons:api-exercise-check", args=[EXERCISE.id])
    ana.post(check, {"code": EXERCISE.start})
    ana.post(check, {"code": EXERCISE.start})
    answer(ana, WRONG)

    html = Client().get(console_url(room, "stuck")).content.decode()

    row = html.split(f'data-exercise="{EXERCISE.id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-failed="2"' in html.split(f'data-exercise="{EXERCISE.id}"', 1)[1][:20]
    assert 'data-failure="over budget"' in row or 'data-failure="wrong output"' in row
    assert f'data-question="{QUESTION.id}" data-wrong="1"' in html


def test_follow_me_sets_the_lesson_for_every_banner(room: Room) -> None:
    ana = join_room("Ana")

    Client().post(console_url(room, "follow"), {"lesson": LESSON.slug, "follow": "start"})

    banner = ana.get(reverse("lessons:room-banner")).content.decode()
    assert f'data-following="{LESSON.slug}"' in banner


def test_follow_me_refuses_an_unknown_lesson(room: Room) -> None:
    response = Client().post(console_url(room, "follow"), {"lesson": "nope", "follow": "start"})

    assert response.status_code == 404


def test_the_editing_switch_turns_editing_on_for_the_room(room: Room) -> None:
    Client().post(console_url(room, "editing"), {"on": "1"})

    assert join_room("Ana").get(reverse("lessons:playground")).status_code == 200


def test_reset_forgets_progress_and_keeps_learners(room: Room) -> None:
    ana = join_room("Ana")
    answer(ana, WRONG)

    Client().post(console_url(room, "reset"))

    assert Answer.objects.filter(learner__room=room).count() == 0
    assert Learner.objects.filter(room=room).count() == 1
    assert ana.get(reverse("lessons:outline")).status_code == 200


def test_ending_the_room_closes_it_and_keeps_its_results(room: Room) -> None:
    ana = join_room("Ana")
    answer(ana, WRONG)

    Client().post(console_url(room, "end"))

    room.refresh_from_db()
    assert room.ended_at is not None
    assert Client().post(reverse("lessons:join"), {"name": "Ben"}).status_code == 404
    assert "Ana" in Client().get(console_url(room, "export")).content.decode()


def test_the_export_has_a_row_per_learner_and_lesson(room: Room) -> None:
    answer(join_room("Ana"), QUESTION.answer)
    join_room("=HYPERLINK(1)")

    response = Client().get(console_url(room, "export"))

    lessons = response.content.decode().split("\r\n\r\n", 1)[0]  # the sections follow
    rows = list(csv.DictReader(io.StringIO(lessons)))
    assert response["Content-Type"].startswith("text/csv")
    assert len(rows) == 2 * len(get_catalog().lessons)
    ana = next(r for r in rows if r["learner"] == "Ana" and r["lesson"] == LESSON.slug)
    assert (ana["quiz_correct"], ana["quiz_answered"]) == ("1", "1")
    # A spreadsheet must not run a learner's name as a formula.
    assert {r["learner"] for r in rows} == {"Ana", "'=HYPERLINK(1)"}


def export_section(room: Room, title: str) -> list[dict[str, str]]:
    text = Client().get(console_url(room, "export")).content.decode()
    section = text.split(f"\r\n\r\n{title}\r\n", 1)[1].split("\r\n\r\n", 1)[0]
    return list(csv.DictReader(io.StringIO(section)))


def test_the_export_has_the_rooms_predictions(room: Room) -> None:
    client = join_room("Ana")
    client.post(
        f"/lessons/{LESSON.slug}/run/",
        {"snippet": "count-comments.fixed", "dataset": "tiny", "predict": "2"},
        HTTP_HX_REQUEST="true",
    )
    (row,) = export_section(room, "predictions")
    assert (row["learner"], row["snippet"], row["predicted"], row["measured"]) == (
        "Ana",
        "count-comments.fixed",
        "2",
        "1",
    )


def test_the_export_has_the_rooms_votes_by_round(room: Room) -> None:
    teacher = instructor_of(room)
    teacher.post(
        console_url(room, "vote"), {"lesson": LESSON.slug, "question": QUESTION.id, "do": "open"}
    )
    answer(join_room("Ana"), QUESTION.answer)
    (row,) = export_section(room, "votes")
    assert (row["learner"], row["round"], row["right"]) == ("Ana", "1", "yes")


def instructor_of(room: Room) -> Client:
    """A browser that opened the room's console."""
    instructor = Client()
    assert instructor.get(console_url(room)).status_code == 200
    return instructor


def present_url(slug: str, number: int) -> str:
    return reverse("console:present", args=[slug, number])


def test_the_presenter_view_shows_one_pair_with_run_buttons(room: Room) -> None:
    html = instructor_of(room).get(present_url(LESSON.slug, 1)).content.decode()

    pair = LESSON.pairs[0]
    assert html.count('class="run-button"') == len(pair.snippets)
    assert f'rel="next" href="{present_url(LESSON.slug, 2)}' in html


def test_the_presenter_view_steps_into_the_next_lesson_after_the_last_pair(room: Room) -> None:
    last = len(LESSON.pairs)
    _, following = get_catalog().neighbours(LESSON)
    assert following is not None

    html = instructor_of(room).get(present_url(LESSON.slug, last)).content.decode()

    assert f'rel="next" href="{present_url(following.slug, 1)}' in html


def test_the_presenter_view_carries_the_token_nowhere(room: Room) -> None:
    instructor = instructor_of(room)
    console = instructor.get(console_url(room) + f"?lesson={LESSON.slug}").content.decode()

    response = instructor.get(present_url(LESSON.slug, 1))

    assert f'href="{present_url(LESSON.slug, 1)}"' in console
    assert room.token not in response.wsgi_request.get_full_path()
    assert response.status_code == 200 and room.token not in response.content.decode()


def test_the_presenter_view_refuses_a_browser_that_did_not_open_the_console(
    room: Room,
) -> None:
    response = join_room("Ana").get(present_url(LESSON.slug, 1))

    assert response.status_code == 403
    assert "open the console" in response.content.decode()


def test_the_presenter_address_with_the_token_still_works_and_drops_it(room: Room) -> None:
    presenter = Client()

    response = presenter.get(
        console_url(room, "present-with-token", LESSON.slug, 2) + "?dataset=medium"
    )

    assert response.status_code == 302
    assert response["Location"] == present_url(LESSON.slug, 2) + "?dataset=medium"
    assert presenter.get(response["Location"]).status_code == 200


def test_the_presenter_views_way_back_to_the_console_is_tokenless(room: Room) -> None:
    instructor = instructor_of(room)
    html = instructor.get(present_url(LESSON.slug, 1)).content.decode()
    back = reverse("console:home") + f"?lesson={LESSON.slug}"

    response = instructor.get(back)

    assert f'href="{back}"' in html
    assert response["Location"] == console_url(room) + f"?lesson={LESSON.slug}"
    assert join_room("Ana").get(back).status_code == 404


def test_opening_the_console_gets_a_new_session_key(room: Room) -> None:
    ana = join_room("Ana")  # the instructor's browser may have joined as a learner first
    before = ana.session.session_key

    ana.get(console_url(room))

    assert ana.session.session_key != before


def test_the_instructor_runs_snippets_without_joining(room: Room) -> None:
    instructor = Client()
    instructor.get(console_url(room))

    response = instructor.post(
        reverse("lessons:run", args=[LESSON.slug]),
        {"snippet": "count-comments.bad", "dataset": "tiny"},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200 and "data-query-count" in response.content.decode()
    assert Learner.objects.filter(room=room).count() == 0


def test_the_presenter_view_shows_the_prose_around_the_pair(room: Room) -> None:
    from lessons.catalog import Prose
    from lessons.display.prose import render_markdown

    blocks = LESSON.blocks
    at = blocks.index(LESSON.pairs[0])
    before, after = blocks[at - 1], blocks[at + 1]
    assert isinstance(before, Prose) and isinstance(after, Prose)

    html = instructor_of(room).get(present_url(LESSON.slug, 1)).content.decode()

    assert str(render_markdown(before.source)) in html
    assert (
        str(render_markdown(after.source))
        in html.split('class="prose present-prose present-after"')[1]
    )
