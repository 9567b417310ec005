"""Vote, discuss, vote again: the console opens a vote on a quiz question, closes it, opens a
second, and shows both rounds side by side; learners vote with the lesson's own quiz form."""

from __future__ import annotations

import re

from django.test import Client

from lessons.catalog import get_catalog
from lessons.learner.models import Answer, Room, Vote
from lessons.learner.quiz import choice_order
from tests.conftest import join_room, progress_of

LESSON = get_catalog().by_slug["n-plus-one"]
QUESTION = LESSON.quiz[0]
WRONG = next(i for i in range(len(QUESTION.choices)) if i != QUESTION.answer)


def instructor(room: Room) -> Client:
    client = Client()
    client.get(f"/console/{room.token}/")
    return client


def vote_switch(client: Client, room: Room, do: str) -> None:
    response = client.post(
        f"/console/{room.token}/vote/",
        {"lesson": LESSON.slug, "question": QUESTION.id, "do": do},
    )
    assert response.status_code == 302


def answer(client: Client, original: int, htmx: bool = False) -> str:
    position = choice_order(progress_of(client).seed, QUESTION).index(original)
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(
        f"/lessons/{LESSON.slug}/quiz/", {"question": QUESTION.id, "choice": position}, **extra
    )
    return response.content.decode()


def rounds(room: Room) -> list[list[int]]:
    """Per choice, its count in each round, from the console's table."""
    html = Client().get(f"/console/{room.token}/clicker/?lesson={LESSON.slug}").content.decode()
    article = html.split(f'data-question="{QUESTION.id}"', 1)[1].split("</article>", 1)[0]
    cells = re.findall(r'data-round="(\d)" data-count="(\d+)"', article)
    per_round: dict[str, list[int]] = {}
    for number, count in cells:
        per_round.setdefault(number, []).append(int(count))
    return [per_round[n] for n in sorted(per_round)]


def test_an_answer_is_a_vote_only_while_one_is_open(room: Room) -> None:
    ana = join_room("Ana")
    answer(ana, WRONG)
    assert not Vote.objects.exists()
    vote_switch(instructor(room), room, "open")
    answer(ana, QUESTION.answer)
    assert list(Vote.objects.values_list("round", "choice")) == [(1, QUESTION.answer)]


def test_a_changed_mind_replaces_the_vote_in_the_round(room: Room) -> None:
    vote_switch(instructor(room), room, "open")
    ana = join_room("Ana")
    answer(ana, WRONG)
    answer(ana, QUESTION.answer)
    assert list(Vote.objects.values_list("choice", flat=True)) == [QUESTION.answer]


def test_while_a_vote_is_open_the_form_keeps_the_answer_back(room: Room) -> None:
    vote_switch(instructor(room), room, "open")
    html = answer(join_room("Ana"), WRONG, htmx=True)
    assert "Your vote is in" in html
    assert QUESTION.answer_text not in html.split('class="feedback', 1)[1]
    assert "is-answer" not in html


def test_after_the_vote_closes_the_form_grades_again(room: Room) -> None:
    teacher = instructor(room)
    vote_switch(teacher, room, "open")
    vote_switch(teacher, room, "close")
    assert "Not quite." in answer(join_room("Ana"), WRONG, htmx=True)


def test_a_vote_after_it_closed_is_not_counted(room: Room) -> None:
    teacher = instructor(room)
    vote_switch(teacher, room, "open")
    vote_switch(teacher, room, "close")
    answer(join_room("Ana"), WRONG)
    assert not Vote.objects.exists()
    assert Answer.objects.filter(learner__room=room).count() == 1  # an answer, as on any page


def test_the_second_vote_is_kept_beside_the_first(room: Room) -> None:
    teacher = instructor(room)
    ana, ben = join_room("Ana"), join_room("Ben")
    vote_switch(teacher, room, "open")
    answer(ana, WRONG)
    answer(ben, WRONG)
    vote_switch(teacher, room, "close")
    vote_switch(teacher, room, "open")  # vote again, after the discussion
    answer(ana, QUESTION.answer)
    answer(ben, WRONG)
    first, second = rounds(room)
    assert (first[WRONG], first[QUESTION.answer]) == (2, 0)
    assert (second[WRONG], second[QUESTION.answer]) == (1, 1)


def test_there_is_no_third_vote(room: Room) -> None:
    teacher = instructor(room)
    for do in ("open", "close", "open", "close"):
        vote_switch(teacher, room, do)
    response = teacher.post(
        f"/console/{room.token}/vote/",
        {"lesson": LESSON.slug, "question": QUESTION.id, "do": "open"},
    )
    assert response.status_code == 409


def test_the_vote_switch_refuses_an_unknown_question(room: Room) -> None:
    response = instructor(room).post(
        f"/console/{room.token}/vote/", {"lesson": LESSON.slug, "question": "nope"}
    )
    assert response.status_code == 404


def test_the_vote_switch_needs_the_token(room: Room) -> None:
    response = Client().post("/console/wrong-token/vote/", {"question": QUESTION.id})
    assert response.status_code == 404


def test_the_clicker_offers_to_vote_again_once_the_first_closed(room: Room) -> None:
    teacher = instructor(room)
    vote_switch(teacher, room, "open")
    vote_switch(teacher, room, "close")
    html = teacher.get(f"/console/{room.token}/clicker/?lesson={LESSON.slug}").content.decode()
    assert "Vote again" in html
