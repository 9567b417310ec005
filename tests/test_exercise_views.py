"""Exercises on the lesson page and in the JSON API: checking, hints, the solution on request,
progress, and the editing switch."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from tests.conftest import progress_of

LESSON = get_catalog().by_slug["n-plus-one"]
EXERCISE = LESSON.exercises[0]
CHECK_PAGE = reverse("lessons:exercise-check", args=[LESSON.slug])
CHECK_API = reverse("lessons:api-exercise-check", args=[EXERCISE.id])
SOLUTION_API = reverse("lessons:api-exercise-solution", args=[EXERCISE.id])


def test_lesson_page_shows_the_task_and_start_but_not_the_solution(
    client: Client, data: None
) -> None:
    html = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    assert f'data-exercise="{EXERCISE.id}"' in html
    assert EXERCISE.solution.splitlines()[0].replace('"', "&quot;") not in html


def test_api_lists_each_lessons_exercises(client: Client, data: None) -> None:
    lessons = client.get(reverse("lessons:api-lessons")).json()["lessons"]
    listed = next(lesson for lesson in lessons if lesson["slug"] == LESSON.slug)["exercises"]

    assert listed[0] == {
        "id": EXERCISE.id,
        "title": EXERCISE.title,
        "starting_code": EXERCISE.start,
    }


def test_api_check_of_the_solution_passes_on_every_dataset(client: Client, data: None) -> None:
    body = client.post(CHECK_API, {"code": EXERCISE.solution}).json()

    assert body["exercise"] == EXERCISE.id and body["passed"] is True
    assert [r["dataset"] for r in body["results"]] == ["tiny", "check", "medium", "large"]


def test_api_check_of_the_start_says_over_budget(client: Client, data: None) -> None:
    body = client.post(CHECK_API, {"code": EXERCISE.start}).json()

    [result] = body["results"]
    assert body["passed"] is False and result["output_matches"] is True
    assert result["query_count"] > result["budget"]


def test_check_page_names_the_dataset_and_the_budget(client: Client, data: None) -> None:
    html = client.post(
        CHECK_PAGE, {"exercise": EXERCISE.id, "code": EXERCISE.start}, HTTP_HX_REQUEST="true"
    ).content.decode()

    assert "On Laptop (5 posts) your code sent" in html and "budget 1" in html
    assert '<th scope="row">Laptop</th>' in html  # the results table names it the same way


def test_solving_shows_on_the_lesson_and_the_outline(client: Client, data: None) -> None:
    client.post(CHECK_PAGE, {"exercise": EXERCISE.id, "code": EXERCISE.solution})

    lesson = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()
    outline = client.get(reverse("lessons:outline")).content.decode()
    assert 'data-exercises-solved="1"' in lesson
    assert 'data-solved="1"' in outline


def test_reset_forgets_exercises(client: Client, data: None) -> None:
    client.post(CHECK_PAGE, {"exercise": EXERCISE.id, "code": EXERCISE.solution})
    client.post(reverse("lessons:progress-reset"))

    lesson = client.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()
    assert 'data-exercises-solved="0"' in lesson


def test_solution_is_revealed_on_request_and_recorded(client: Client, data: None) -> None:
    body = client.post(SOLUTION_API).json()

    assert body == {"exercise": EXERCISE.id, "code": EXERCISE.solution}
    assert progress_of(client).exercise(EXERCISE.id)["revealed"] is True


def test_an_unknown_exercise_is_404_in_json(client: Client, data: None) -> None:
    response = client.post(reverse("lessons:api-exercise-check", args=["nope.nope"]), {"code": "x"})

    assert response.status_code == 404 and response.json()["error"]["type"] == "NotFound"


def test_checking_is_403_when_editing_is_off(client: Client, data: None, settings: Any) -> None:
    settings.COURSE_EDITING = "off"
    response = client.post(CHECK_API, {"code": EXERCISE.solution})

    assert response.status_code == 403 and response.json()["error"]["type"] == "EditingOff"


TECHNIQUE = next(
    (exercise, attempt)
    for lesson in get_catalog().lessons
    for exercise in lesson.exercises
    if exercise.costs and exercise.runs_here
    for attempt in exercise.wrong
    if attempt.reason == "technique"
)


def test_the_api_names_the_cost_a_technique_attempt_is_over(client: Client, data: None) -> None:
    exercise, attempt = TECHNIQUE
    url = reverse("lessons:api-exercise-check", args=[exercise.id])

    results = client.post(url, {"code": attempt.code}).json()["results"]

    over = [cost for cost in results[-1]["costs"] if not cost["passed"]]
    assert over and over[0]["measured"] > over[0]["budget"] and over[0]["message"]
    assert set(results[-1]["usage"]) == {"rows", "objects", "alive", "memory_mb"}


def test_the_verdict_shows_each_budgeted_cost(client: Client, data: None) -> None:
    exercise, attempt = TECHNIQUE
    lesson = get_catalog().exercises[exercise.id][0]
    url = reverse("lessons:exercise-check", args=[lesson.slug])

    html = client.post(url, {"exercise": exercise.id, "code": attempt.code}).content.decode()

    assert 'class="cost cost--over"' in html
    assert "Not yet." in html


def test_a_passing_check_marks_the_exercise_solved_out_of_band(client: Client, data: None) -> None:
    html = client.post(
        CHECK_PAGE, {"exercise": EXERCISE.id, "code": EXERCISE.solution}, HTTP_HX_REQUEST="true"
    ).content.decode()

    badge = re.search(r'<span class="exercise-state" id="state-[^"]+"[^>]*>[^<]*</span>', html)
    assert badge and 'hx-swap-oob="true"' in badge[0] and "✓ solved" in badge[0]


def test_a_failed_check_without_javascript_keeps_the_code_to_try_again(
    client: Client, data: None
) -> None:
    mine = EXERCISE.start + "\n# my attempt\n"
    html = client.post(CHECK_PAGE, {"exercise": EXERCISE.id, "code": mine}).content.decode()

    form = re.search(r'<form class="exercise-form" method="post".*?</form>', html, re.S)
    assert form and "Check again" in form[0]
    assert "# my attempt" in form[0]
