"""Every claim the course makes about query counts and query plans, checked on every dataset."""

from __future__ import annotations

import functools

import pytest

from lessons import datasets
from lessons.catalog import get_catalog
from lessons.datasets import DatasetRef
from lessons.display.report import build_report
from lessons.engine import Task
from lessons.engine import run as run_tasks
from lessons.engine.child.runner import run_code
from lessons.measure.explain import plans_of
from lessons.measure.plan_claims import judge
from lessons.measure.runs import SnippetRun, run_lesson_snippet
from tests.conftest import alias, expected


@functools.cache
def ran(lesson_slug: str, snippet_id: str, dataset: str) -> SnippetRun:
    """A course snippet's run on a dataset, made once per worker and shared by the test of its
    count and the test comparing its pair's outputs: a real run through the run service either way.
    """
    lesson = get_catalog().by_slug[lesson_slug]
    snippet = lesson.snippets[snippet_id]
    if dataset != datasets.CHECK.name:
        return run_lesson_snippet(lesson, snippet, DatasetRef(dataset))
    # The hidden check dataset is no page's: run it as the service runs any course code.
    [result] = run_tasks(
        [Task(snippet.code, dataset, snippet.measure_memory)], learner="course", course_code=True
    )
    return SnippetRun(lesson, snippet, datasets.stats(dataset), result)


# A lesson's tests run on one pytest-xdist worker (`--dist loadgroup`), so its runs are shared.
SNIPPETS = [
    pytest.param(
        lesson,
        snippet,
        id=f"{lesson.slug}:{snippet.id}",
        marks=pytest.mark.xdist_group(lesson.slug),
    )
    for lesson in get_catalog().lessons
    for snippet in lesson.snippets.values()
]


@pytest.mark.parametrize(("lesson", "snippet"), SNIPPETS)
def test_snippet_matches_its_expect(lesson, snippet, every_dataset: str) -> None:
    dataset = every_dataset
    if not snippet.runs_here:
        pytest.skip(f"needs Django {snippet.needs_django}: make test-next checks it")
    engine = datasets.stats(alias(dataset)).engine
    if not snippet.runs_on(engine):
        checked_by = "make test-pg" if snippet.engine == "postgresql" else "make test"
        pytest.skip(f"uses {snippet.engine}'s own features: {checked_by} checks it")
    run = ran(lesson.slug, snippet.id, dataset)

    if snippet.raises:
        assert run.error_expected, f"{snippet.id} should raise {snippet.raises}: {run.result.error}"
    else:
        assert run.result.error is None, run.result.error
    promised = expected(snippet, dataset)
    assert run.result.query_count == promised, (
        f"{snippet.id} on {dataset}: measured {run.result.query_count}, "
        f"expect {snippet.expect_for(engine)!r} says {promised}"
    )


# The snippets whose plans the lesson claims, grouped like the rest.
PLANNED = [param for param in SNIPPETS if param.values[1].plans]


@pytest.mark.parametrize(("lesson", "snippet"), PLANNED)
def test_snippet_plan_matches_its_claim(lesson, snippet, every_dataset: str) -> None:
    dataset = every_dataset
    engine = datasets.stats(alias(dataset)).engine
    if not snippet.runs_on(engine):
        pytest.skip("needs a newer Django or the other engine: make test-next/test-pg")
    claims = snippet.plans.for_(engine, every_dataset)
    if not claims:
        pytest.skip(f"{snippet.id} claims nothing about its plan on {engine} {dataset}")
    run = ran(lesson.slug, snippet.id, dataset)
    plans = plans_of(alias(dataset), run.result.queries)
    assert plans, f"{snippet.id} on {dataset}: no statement to explain"
    broken = judge(claims, plans)
    assert not broken, f"{snippet.id} on {engine} {dataset}: " + "; ".join(
        f"{b.claim}: {b.message}" for b in broken
    )


PAIRS = [
    pytest.param(
        lesson, pair, id=f"{lesson.slug}:{pair.id}", marks=pytest.mark.xdist_group(lesson.slug)
    )
    for lesson in get_catalog().lessons
    for pair in lesson.comparisons
    # A side may print something else only where the lesson says why (differs="...").
    if not any(snippet.differs for snippet in pair.snippets)
]
PREDICTIONS = [
    pytest.param(question, id=question.id)
    for lesson in get_catalog().lessons
    for question in lesson.quiz
    if question.kind == "predict"
]


@pytest.mark.parametrize(("lesson", "pair"), PAIRS)
def test_pair_sides_print_the_same(lesson, pair, dataset: str) -> None:
    if not pair.runs_on(DatasetRef(dataset).stats().engine):
        pytest.skip("a side needs a newer Django or the other engine: make test-next/test-pg")
    bad, fixed = (ran(lesson.slug, s.id, dataset).result for s in pair.snippets)

    assert bad.output == fixed.output


# Where an N+1 has grown past the panel's threshold on every bad side (tiny has five posts).
FLAGGED_ON = ("medium", "large")


def sides(side: str) -> list[object]:
    return [
        pytest.param(
            lesson,
            snippet,
            dataset,
            id=f"{lesson.slug}:{snippet.id}:{dataset}",
            marks=pytest.mark.xdist_group(lesson.slug),
        )
        for lesson in get_catalog().lessons
        for pair in lesson.comparisons
        for snippet in pair.snippets
        if snippet.side == side
        for dataset in FLAGGED_ON
    ]


def n_plus_one_flags(lesson, snippet, dataset: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The statements the run panel flags as N+1s on this snippet's shared run."""
    if not snippet.runs_on(DatasetRef(dataset).stats().engine):
        pytest.skip("needs a newer Django or the other engine: make test-next/test-pg")
    queries = ran(lesson.slug, snippet.id, dataset).result.queries
    return [group.sql for group in build_report(queries).n_plus_one]


@pytest.mark.parametrize(("lesson", "snippet", "dataset"), sides("bad"))
def test_the_panel_says_n_plus_one_where_the_lesson_does(lesson, snippet, dataset, data) -> None:  # type: ignore[no-untyped-def]
    flagged = n_plus_one_flags(lesson, snippet, dataset)

    assert bool(flagged) is snippet.n_plus_one, (
        f"{snippet.id} on {dataset}: the lesson "
        f"{'calls it' if snippet.n_plus_one else 'does not call it'} an N+1; the panel flags "
        f"{flagged or 'nothing'}"
    )


@pytest.mark.parametrize(("lesson", "snippet", "dataset"), sides("fixed"))
def test_the_panel_never_says_n_plus_one_on_a_fixed_side(lesson, snippet, dataset, data) -> None:  # type: ignore[no-untyped-def]
    assert n_plus_one_flags(lesson, snippet, dataset) == []


@pytest.mark.parametrize("question", PREDICTIONS)
def test_predict_question_counts_are_true(question, dataset: str) -> None:
    result = run_code(question.code, dataset)

    assert result.error is None, result.error
    assert result.query_count == expected(question, dataset)


def test_the_first_three_lessons_are_in_the_catalog() -> None:
    assert {"lazy-querysets", "evaluation", "n-plus-one"} <= set(get_catalog().by_slug)


def test_every_pair_has_a_bad_and_a_fixed_side() -> None:
    for lesson in get_catalog().lessons:
        for pair in lesson.pairs:
            sides = [snippet.side for snippet in pair.snippets]
            assert sides in (["bad", "fixed"], ["demo"]), (lesson.slug, pair.id, sides)
