"""Exercises: every reference solution passes its own check on every dataset (the hidden check
dataset included), every starting code fails it, and every known wrong attempt written next to an
exercise fails for the reason it declares."""

from __future__ import annotations

import dataclasses
from typing import Any

import django
import pytest

from lessons.catalog import Exercise, get_catalog
from lessons.measure.exercises import ExerciseNeedsNewerDjango, check, first_difference
from lessons.measure.rules import broken_rules

EXERCISES = [exercise for lesson in get_catalog().lessons for exercise in lesson.exercises]
WRONG = [(exercise, attempt) for exercise in EXERCISES for attempt in exercise.wrong]


def needs_this_django(exercise: Exercise) -> None:
    if not exercise.runs_here:
        pytest.skip(f"needs Django {exercise.needs_django}: make test-next checks it")


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_reference_solution_passes_on_every_dataset(exercise: Exercise, data: None) -> None:
    needs_this_django(exercise)
    verdict = check(exercise, exercise.solution, learner="tests")

    assert verdict.passed, verdict.failure
    assert [r.dataset for r in verdict.results] == ["tiny", "check", "medium", "large"]


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_starting_code_fails(exercise: Exercise, data: None) -> None:
    needs_this_django(exercise)
    assert not check(exercise, exercise.start, learner="tests").passed


@pytest.mark.parametrize(
    ("exercise", "attempt"), WRONG, ids=[f"{e.id}-{i}" for i, (e, _) in enumerate(WRONG)]
)
def test_wrong_attempt_fails_for_its_reason(exercise: Exercise, attempt, data: None) -> None:  # type: ignore[no-untyped-def]
    needs_this_django(exercise)
    verdict = check(exercise, attempt.code, learner="tests")

    assert not verdict.passed
    assert verdict.reason == attempt.reason


def test_a_failed_check_stops_at_the_first_dataset_that_fails(data: None) -> None:
    exercise = EXERCISES[0]
    verdict = check(exercise, "print('nothing like it')", learner="tests")

    assert [r.dataset for r in verdict.results] == ["tiny"]
    assert verdict.failure is not None and verdict.failure.first_difference is not None


def test_an_exercise_for_a_newer_django_is_not_checked_and_says_why() -> None:
    exercise = dataclasses.replace(EXERCISES[0], needs_django="99.0")

    with pytest.raises(ExerciseNeedsNewerDjango, match=r"uses Django 99\.0's API"):
        check(exercise, exercise.solution, learner="tests")


def test_the_fetch_modes_exercise_needs_django_6_1() -> None:
    _, exercise = get_catalog().exercises["fetch-modes.ready-for-fetch-raise"]

    assert exercise.needs_django == "6.1"
    assert exercise.runs_here is (django.VERSION[:2] >= (6, 1))


def test_first_difference_names_the_line_and_both_sides() -> None:
    difference = first_difference("a\nb\nc\n", "a\nB\nc")

    assert difference is not None
    assert (difference.line, difference.expected, difference.got) == (2, "b", "B")


def test_first_difference_sees_a_missing_last_line() -> None:
    difference = first_difference("a\nb", "a")

    assert difference is not None and (difference.line, difference.got) == (2, None)


@pytest.mark.parametrize(
    ("code", "rule"),
    [
        ("Post.objects.raw('SELECT * FROM blog_post')", "no-raw-sql"),
        ("from django.db import connection\nconnection.cursor()", "no-raw-sql"),
        ("print(len(Post.objects.all()))", "no-len"),
        ("print(sorted(p.title for p in Post.objects.all()))", "no-python-sorting"),
        ("print(sum(p.view_count for p in Post.objects.all()))", "no-python-sum"),
    ],
)
def test_rules_are_read_from_the_code(code: str, rule: str) -> None:
    assert broken_rules(code, (rule,)) == [rule]


def test_code_within_the_rules_breaks_none() -> None:
    code = "print(Post.objects.count())\nprint(Post.objects.aggregate(Sum('view_count')))"

    assert broken_rules(code, ("no-raw-sql", "no-len", "no-python-sorting", "no-python-sum")) == []


KEY_LESSONS = (
    "n-plus-one",
    "select-related",
    "prefetch-related",
    "combining",
    "count-exists",
    "aggregate-annotate",
    "conditional-aggregation",
    "subqueries",
    "columns",
    "bulk",
)


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_every_exercise_declares_an_attempt_that_skips_its_technique(exercise: Exercise) -> None:
    """Right output within the query budget, without the idea the exercise teaches: the content
    tests above fail the exercise if such an attempt passes. Where the query budget alone tells
    the technique, the exercise says so and shows it with budget attempts instead."""
    reasons = {attempt.reason for attempt in exercise.wrong}
    assert "technique" in reasons or (exercise.technique_is_budget and "budget" in reasons)


def test_few_exercises_leave_the_technique_to_the_query_budget() -> None:
    leaning = [exercise.id for exercise in EXERCISES if exercise.technique_is_budget]

    assert len(leaning) <= len(EXERCISES) // 20, leaning


def test_every_lesson_has_an_exercise() -> None:
    missing = [lesson.slug for lesson in get_catalog().lessons if not lesson.exercises]

    assert missing == []


@pytest.mark.parametrize("slug", KEY_LESSONS)
def test_key_lessons_have_two_or_three_exercises_and_three_wrong_attempts(slug: str) -> None:
    lesson = get_catalog().by_slug[slug]

    assert 2 <= len(lesson.exercises) <= 3
    assert sum(len(exercise.wrong) for exercise in lesson.exercises) >= 3


def test_the_course_has_at_least_45_exercises() -> None:
    assert len(EXERCISES) >= 45


def test_exercise_ids_are_unique_across_the_course() -> None:
    ids = [exercise.id for exercise in EXERCISES]

    assert len(ids) == len(set(ids))


def test_learners_checking_together_share_one_reference_run(data: None, settings: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    from lessons.measure import exercises

    exercises._references.clear()  # a fresh server: nobody has checked this exercise yet
    # Room for all four in the check lane: this is about sharing, not about busy.
    settings.COURSE_RUN_CHECK_QUEUE = 4
    exercise = EXERCISES[0]

    def learner(number: int) -> bool:
        try:
            return check(exercise, exercise.solution, learner=f"together-{number}").passed
        finally:
            connections.close_all()

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(learner, range(4))) == [True] * 4
