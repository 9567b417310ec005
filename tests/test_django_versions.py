"""What the lessons say changed in Django 6.0, checked on the Django that runs the suite:
`make test` checks the 5.2 half of each claim, `make test-next` the 6.0+ half. Counts that changed
are declared in the lesson files (expect-6.0) and checked by test_lessons_verified; these are the
outputs."""

from __future__ import annotations

import dataclasses
import re

import django
import pytest
from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from lessons.datasets import DatasetRef
from lessons.measure.runs import run_lesson_snippet
from tests.conftest import expected

SINCE_6_0 = django.VERSION >= (6, 0)


def output(slug: str, snippet_id: str) -> str:
    lesson = get_catalog().by_slug[slug]
    run = run_lesson_snippet(lesson, lesson.snippets[snippet_id], DatasetRef("tiny"))
    assert run.result.error is None, run.result.error
    return run.result.output


def test_an_f_expression_stays_on_the_instance_until_6_0(data: None) -> None:
    printed = output("f-expressions", "f-sticks-after-save")

    # 5.2 keeps the expression and applies it again on the second save(); 6.0 reads the value back.
    assert ("CombinedExpression" in printed) is not SINCE_6_0
    assert f"views added: {1 if SINCE_6_0 else 2}" in printed


def test_a_generated_field_is_stale_after_save_until_6_0(data: None) -> None:
    printed = output("generated-fields", "generated-field-after-save")

    match = re.search(r"after save\(\):\s+(\d+) but len\(body\) is now (\d+)", printed)
    assert match is not None, printed
    shown, real = match.groups()
    assert (shown == real) is SINCE_6_0


def test_a_snippet_for_a_newer_django_runs_nothing_and_says_why(data: None) -> None:
    lesson = get_catalog().by_slug["fetch-modes"]
    snippet = dataclasses.replace(lesson.snippets["fetch-peers-authors.fixed"], needs_django="99.0")

    run = run_lesson_snippet(lesson, snippet, DatasetRef("tiny"))

    assert run.result.query_count == 0
    assert run.result.error is not None and run.result.error.type == "NeedsNewerDjango"


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="on 6.1 it runs: test_lessons_verified")
def test_before_6_1_the_panel_shows_the_fetch_peers_count_measured_on_6_1(
    client: Client, data: None
) -> None:
    lesson = get_catalog().by_slug["fetch-modes"]
    snippet = lesson.snippets["fetch-peers-authors.fixed"]
    url = reverse("lessons:run", args=[lesson.slug])
    posted = {"snippet": snippet.id, "dataset": "medium"}

    response = client.post(url, posted, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    promised = expected(snippet, "medium")
    assert f"<strong>{promised}</strong>" in html
    assert "measured on Django 6.1, not run here" in html


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="on 6.1 it is checked: test_exercises")
def test_before_6_1_checking_the_fetch_modes_exercise_answers_409_and_says_why(
    client: Client, data: None
) -> None:
    _, exercise = get_catalog().exercises["fetch-modes.ready-for-fetch-raise"]
    url = reverse("lessons:api-exercise-check", args=[exercise.id])

    response = client.post(url, {"code": exercise.solution})

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["type"] == "ExerciseNeedsNewerDjango" and "make run-next" in error["message"]


@pytest.mark.skipif(django.VERSION >= (6, 1), reason="on 6.1 it is checked: test_exercises")
def test_before_6_1_the_fetch_modes_page_says_its_exercise_is_not_checked_here(
    client: Client, data: None
) -> None:
    html = client.get(reverse("lessons:detail", args=["fetch-modes"])).content.decode()

    assert "This exercise uses Django 6.1's API" in html
    assert 'id="code-exercise-fetch-modes-ready-for-fetch-raise"' not in html  # no Check form
