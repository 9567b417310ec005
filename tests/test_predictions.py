"""Predict, then run: a learner's count before a snippet's first run, the truth beside it, and
what the room predicted on the console."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from lessons.catalog import get_catalog
from lessons.datasets import stats
from lessons.learner.models import Learner, Prediction, Room
from lessons.learner.predictions import BadPrediction, closeness, read_guess
from tests.conftest import join_room

LESSON = get_catalog().by_slug["n-plus-one"]
BAD = LESSON.snippets["count-comments.bad"]  # expect 1 + posts
FIXED = LESSON.snippets["count-comments.fixed"]  # expect 1


def run(client: Client, snippet: Any, predict: str | None = None, **extra: str) -> Any:
    data = {"snippet": snippet.id, "dataset": "medium", **extra}
    if predict is not None:
        data["predict"] = predict
    return client.post(f"/lessons/{LESSON.slug}/run/", data, HTTP_HX_REQUEST="true")


def lesson_page(client: Client, dataset: str = "medium") -> str:
    return client.get(f"/lessons/{LESSON.slug}/?dataset={dataset}").content.decode()


def test_a_number_is_read_as_it_is() -> None:
    assert read_guess(" 101 ", {"posts": 100}).number == 101


def test_a_formula_is_worked_out_on_the_datasets_counts() -> None:
    guess = read_guess("1 + posts", {"posts": 100})
    assert (guess.number, guess.said) == (101, "1 + posts")


def test_an_empty_prediction_is_a_skip() -> None:
    assert read_guess("  ", {"posts": 100}) is None


@pytest.mark.parametrize("text", ["lots", "1 + users", "__import__('os')", "9" * 81, "-3"])
def test_what_is_not_a_count_is_refused_with_how_to_write_one(text: str) -> None:
    with pytest.raises(BadPrediction):
        read_guess(text, {"posts": 100})


@pytest.mark.parametrize(
    ("guess", "actual", "verdict"),
    [
        (101, 101, "exact"),
        (100, 101, "close"),
        (92, 101, "close"),
        (90, 101, "off"),
        (2, 1, "close"),
        (3, 1, "off"),
    ],
)
def test_closeness_allows_one_query_or_a_tenth(guess: int, actual: int, verdict: str) -> None:
    assert closeness(guess, actual) == verdict


def test_a_room_asks_for_a_prediction_and_hides_the_promised_count(room: Room) -> None:
    html = lesson_page(join_room("Ana"))
    card = html[html.index('id="card-count-comments-bad"') :][:6000]
    assert 'name="predict"' in card
    assert "expects " not in card


def test_on_ones_own_machine_the_cards_do_not_ask_unless_told(data: None) -> None:
    client = Client()
    before = set(Learner.objects.values_list("pk", flat=True))
    try:
        assert 'name="predict"' not in lesson_page(client)
        client.post("/predicting/", {"on": "1", "next": f"/lessons/{LESSON.slug}/"})
        assert 'name="predict"' in lesson_page(client)
    finally:
        Learner.objects.exclude(pk__in=before).delete()


def test_the_run_shows_the_prediction_beside_the_count(room: Room) -> None:
    client = join_room("Ana")
    html = run(client, BAD, "1 + posts").content.decode()
    posts = stats("medium").counts["posts"]
    assert 'data-prediction="exact"' in html
    assert f"it sent <strong>{posts + 1}</strong>" in html


def test_a_low_guess_is_told_why_the_count_grows(room: Room) -> None:
    html = run(join_room("Ana"), BAD, "2").content.decode()
    assert 'data-prediction="off"' in html
    assert "grows with the data" in html


def test_the_first_prediction_is_kept_with_the_measured_count(room: Room) -> None:
    client = join_room("Ana")
    run(client, FIXED, "3")
    run(client, FIXED, "1")  # after seeing the count: a rerun predicts nothing
    row = Prediction.objects.get(learner__name="Ana", snippet=FIXED.id)
    assert (row.guess, row.actual, row.dataset) == (3, 1, "medium")


def test_a_skipped_prediction_stores_nothing_and_runs(room: Room) -> None:
    client = join_room("Ana")
    response = run(client, FIXED, "")
    assert 'data-query-count="1"' in response.content.decode()
    assert not Prediction.objects.filter(learner__name="Ana").exists()


def test_a_bad_prediction_is_refused_before_the_run(room: Room) -> None:
    client = join_room("Ana")
    response = run(client, BAD, "a lot")
    assert response.status_code == 400
    assert "formula" in response.content.decode()
    assert not Prediction.objects.exists()
    assert 'name="predict"' in lesson_page(client)  # still asked: nothing was run


def test_a_predicted_card_stops_asking_on_that_dataset_only(room: Room) -> None:
    client = join_room("Ana")
    run(client, BAD, "6")
    medium, tiny = lesson_page(client), lesson_page(client, "tiny")

    def asks(html: str) -> bool:
        card = html[html.index('id="card-count-comments-bad"') :][:6000]
        return 'name="predict"' in card.split("</form>")[0]

    assert (asks(medium), asks(tiny)) == (False, True)


def test_the_lesson_progress_counts_predictions_made_and_exact(room: Room) -> None:
    client = join_room("Ana")
    run(client, BAD, "1 + posts")
    html = run(client, FIXED, "4").content.decode()
    assert re.search(r"Predictions: <strong[^>]*>2 made, 1 exact, 0 close", html)


def test_the_outline_counts_predictions(room: Room) -> None:
    client = join_room("Ana")
    run(client, BAD, "1 + posts")
    assert 'data-predicted="1"' in client.get("/").content.decode()


def test_a_learner_can_turn_predictions_off_in_a_room(room: Room) -> None:
    client = join_room("Ana")
    client.post("/predicting/", {"on": "0", "next": f"/lessons/{LESSON.slug}/"})
    assert Learner.objects.get(name="Ana").predict is False
    assert 'name="predict"' not in lesson_page(client)


def test_without_javascript_the_page_after_the_run_shows_the_prediction(room: Room) -> None:
    client = join_room("Ana")
    response = client.post(
        f"/lessons/{LESSON.slug}/run/",
        {"snippet": FIXED.id, "dataset": "medium", "predict": "1"},
        follow=True,
    )
    assert 'data-prediction="exact"' in response.content.decode()


def predictions_part(room: Room) -> str:
    url = f"/console/{room.token}/predictions/?lesson={LESSON.slug}"
    return Client().get(url).content.decode()


def test_the_console_draws_the_rooms_predictions_as_a_histogram(room: Room) -> None:
    for name, guess in [("Ana", "6"), ("Ben", "6"), ("Cy", "1 + posts")]:
        run(join_room(name), BAD, guess)
    html = predictions_part(room)
    histogram = html.split(f'data-snippet="{BAD.id}" data-dataset="medium"', 1)[1]
    bars = dict(re.findall(r'data-guess="([\d,]+)" data-count="(\d+)"', histogram))
    posts = stats("medium").counts["posts"]
    assert bars == {"6": "2", f"{posts + 1:,}": "1"}


def test_the_measured_count_is_hidden_until_revealed(room: Room) -> None:
    run(join_room("Ana"), BAD, "6")
    assert "data-measured" not in predictions_part(room)
    teacher = Client()
    teacher.get(f"/console/{room.token}/")
    teacher.post(
        f"/console/{room.token}/predictions/reveal/",
        {"lesson": LESSON.slug, "snippet": BAD.id, "dataset": "medium"},
    )
    posts = stats("medium").counts["posts"]
    assert f'data-measured="{posts + 1}"' in predictions_part(room)


def test_a_learner_never_sees_the_rooms_predictions(room: Room) -> None:
    client = join_room("Ana")
    run(client, BAD, "6")
    assert client.get("/console/not-the-token/predictions/").status_code == 404
