"""Checks a learner cannot talk their way through: the verdict rests on measured costs, a run
that tampers with its count fails, the run never sees the solutions, the hidden dataset's output
never leaves the server, and the reference outputs follow the datasets' content."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from lessons import datasets
from lessons.catalog import expect, get_catalog
from lessons.catalog.models import CostBudget
from lessons.measure import exercises
from lessons.measure.exercises import check
from lessons.web.exercises import explain
from tests.conftest import RENAMES as BASE_RENAMES

EXERCISE = get_catalog().by_slug["n-plus-one"].exercises[0]
RENAMES = (
    BASE_RENAMES + 'print(list(Tag.objects.order_by("pk").values_list("name", flat=True)[:3]))\n'
)


def renaming(solution: str) -> Any:
    """An exercise whose solution writes, checked with the atomic probe."""
    return dataclasses.replace(
        EXERCISE, solution=solution, budget="20", _budget_tree=expect.parse("20"), atomic=2
    )


def budgeted(cost: str, source: str) -> Any:
    """EXERCISE with one more cost budgeted."""
    return dataclasses.replace(
        EXERCISE, costs=(*EXERCISE.costs, CostBudget(cost, source, expect.parse(source)))
    )


@pytest.mark.parametrize(
    ("cost", "said"),
    [
        ("rows", "rows from the database, budget 1: let the database filter and count"),
        ("objects", "Post objects"),
        ("alive", "model objects at once, budget 1: stream them"),
        ("memory_mb", "MB of memory, budget 1 MB"),
    ],
)
def test_a_cost_over_its_budget_fails_the_check_naming_the_cost(
    cost: str, said: str, data: None
) -> None:
    verdict = check(budgeted(cost, "1"), EXERCISE.solution, learner="tests")

    assert not verdict.passed and verdict.reason == "technique"
    assert said in explain(verdict)


def test_a_cost_within_its_budget_passes(data: None) -> None:
    verdict = check(budgeted("rows", "posts + authors"), EXERCISE.solution, learner="tests")

    assert verdict.passed


def test_code_that_is_not_all_or_nothing_fails_the_atomic_probe(data: None) -> None:
    exercise = renaming(RENAMES.format(block="with transaction.atomic():"))

    verdict = check(exercise, RENAMES.format(block="if True:"), learner="tests")

    assert verdict.reason == "technique"
    assert verdict.failure is not None and verdict.failure.dataset == "medium"
    assert "left 1 changed row in blog_tag when its 2nd write failed" in explain(verdict)


def test_all_or_nothing_code_passes_the_atomic_probe(data: None) -> None:
    solution = RENAMES.format(block="with transaction.atomic():")
    exercise = renaming(solution)

    assert check(exercise, solution, learner="tests").passed


@pytest.mark.parametrize(
    "trick",
    [
        "connection.execute_wrappers.pop()",
        "connection.execute_wrappers = []",
        "connection.execute_wrappers[-1].queries.clear()",
    ],
    ids=["pop-the-recorder", "replace-the-wrappers", "empty-the-recorder"],
)
def test_a_run_that_tampers_with_its_count_fails_its_check(trick: str, data: None) -> None:
    start = EXERCISE.start  # over budget, unless the count is hidden
    code = f"{start}\n{trick}" if "clear" in trick else f"{trick}\n{start}"

    verdict = check(EXERCISE, code, learner="tests")

    assert not verdict.passed and verdict.reason == "trust"
    assert "could not be measured, so its count cannot be trusted" in explain(verdict)


def test_statements_sent_past_django_fail_the_check(data: None) -> None:
    code = (
        "raw = connection.connection\n"
        "for title, name in raw.execute('SELECT p.title, a.name FROM blog_post p '\n"
        "        'JOIN blog_author a ON a.id = p.author_id LIMIT 0'):\n"
        "    pass\n" + EXERCISE.solution
    )

    verdict = check(EXERCISE, code, learner="tests")

    assert verdict.reason == "trust"
    assert "reached the database without being recorded" in explain(verdict)


@pytest.mark.parametrize(
    "code",
    [
        "from lessons.catalog import get_catalog\nprint(len(get_catalog().exercises))",
        "from django.conf import settings\n"
        "print(open(settings.BASE_DIR / 'lessons/content/n-plus-one.md').read())",
        "from django.conf import settings\n"
        "import os\n"
        "print(os.listdir(settings.BASE_DIR / '.git'))",
    ],
    ids=["the-catalog", "a-lesson-file", "git-history"],
)
def test_a_run_cannot_read_the_solutions(code: str, data: None) -> None:
    from lessons.engine import Task, run

    [result] = run([Task(code, "tiny")], learner="tests")

    assert result.error is not None and result.error.type in (
        "PermissionError",
        "FileNotFoundError",
    )
    assert result.output == ""


def only_on_the_hidden_dataset() -> str:
    """The solution, but its last line is wrong where there are as many posts as there."""
    posts = datasets.stats(datasets.CHECK.name).counts["posts"]
    return (
        "lines = []\n"
        'for post in Post.objects.select_related("author").order_by("-created_at", "pk"):\n'
        "    lines.append(f'{post.title} by {post.author.name}')\n"
        f"if len(lines) == {posts}:\n"
        "    lines[-1] = '?'\n"
        "for line in lines:\n"
        "    print(line)\n"
    )


def test_a_failure_on_the_hidden_dataset_shows_none_of_its_output(data: None) -> None:
    verdict = check(EXERCISE, only_on_the_hidden_dataset(), learner="tests")

    assert verdict.failure is not None and verdict.failure.dataset == "check"
    assert verdict.failure.first_difference is None and verdict.shown_difference is None
    assert "hidden check dataset your output differs" in explain(verdict)


def test_a_failure_on_the_hidden_dataset_goes_on_to_the_visible_ones(data: None) -> None:
    verdict = check(EXERCISE, only_on_the_hidden_dataset(), learner="tests")

    assert [r.dataset for r in verdict.results] == ["tiny", "check", "medium", "large"]
    assert [r.passed for r in verdict.results] == [True, False, True, True]


def test_the_api_gives_back_nothing_of_the_hidden_datasets_expected_output(
    client: Client, data: None
) -> None:
    checksums = {name: datasets.stats(name).checksum for name in exercises.ORDER}
    expected = exercises.reference_outputs(EXERCISE, checksums)["check"]
    url = reverse("lessons:api-exercise-check", args=[EXERCISE.id])

    answer = client.post(url, {"code": only_on_the_hidden_dataset()})

    body = json.dumps(answer.json())
    assert answer.json()["passed"] is False
    assert not any(line in body for line in expected.splitlines() if len(line) > 8)


def test_an_answer_that_fails_on_staging_never_runs_on_production(
    monkeypatch: pytest.MonkeyPatch, data: None
) -> None:
    ran: list[str] = []
    run = exercises.engine.run

    def recording(tasks: list[Any], **kw: Any) -> Any:
        if kw["learner"] == "tests":  # the answer's runs, not the solution's reference runs
            ran.extend(task.dataset for task in tasks)
        return run(tasks, **kw)

    monkeypatch.setattr(exercises.engine, "run", recording)
    over_budget = budgeted("rows", "min(posts, 5)")  # holds on Laptop's 5 posts only

    verdict = check(over_budget, EXERCISE.solution, learner="tests")

    assert verdict.reason == "technique"
    assert "medium" in ran and "large" not in ran


def test_reference_outputs_are_kept_per_dataset_content(
    monkeypatch: pytest.MonkeyPatch, data: None
) -> None:
    computed = []
    monkeypatch.setattr(exercises, "_references", {})
    monkeypatch.setattr(
        exercises, "_reference_outputs", lambda e: computed.append(e.id) or {"tiny": ""}
    )
    same = {name: "a" for name in exercises.ORDER}

    exercises.reference_outputs(EXERCISE, same)
    exercises.reference_outputs(EXERCISE, same)
    exercises.reference_outputs(EXERCISE, {**same, "medium": "reseeded, same counts"})

    assert computed == [EXERCISE.id, EXERCISE.id]


def test_the_seeder_writes_each_datasets_checksum(data: None) -> None:
    for name in exercises.ORDER:
        assert datasets.stats(name).checksum == datasets.checksum(name)


def test_a_run_that_rewrites_how_its_results_are_sent_fails_its_check(data: None) -> None:
    forge = (
        "import sys\n"
        "sandbox = sys.modules['lessons.engine.child.sandbox']\n"
        "sandbox.encode_result = lambda result, real=sandbox.encode_result: real(result)\n"
    )

    verdict = check(EXERCISE, forge + EXERCISE.start, learner="tests")

    assert not verdict.passed
    assert verdict.failure is not None and verdict.failure.error is not None
    assert verdict.failure.error.type == "MeasurementTampered"
