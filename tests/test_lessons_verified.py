"""Every claim the course makes about query counts, checked on every dataset."""

from __future__ import annotations

import functools

import pytest

from lessons.catalog import get_catalog
from lessons.datasets import DatasetRef
from lessons.engine.child.runner import run_code
from lessons.measure.runs import SnippetRun, run_lesson_snippet
from tests.conftest import expected


@functools.cache
def ran(lesson_slug: str, snippet_id: str, dataset: str) -> SnippetRun:
    """A course snippet's run on a dataset, made once per worker and shared by the test of its
    count and the test comparing its pair's outputs: a real run through the run service either way.
    """
    lesson = get_catalog().by_slug[lesson_slug]
    return run_lesson_snippet(lesson, lesson.snippets[snippet_id], DatasetRef(dataset))


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
def test_snippet_matches_its_expect(lesson, snippet, dataset: str) -> None:
    if not snippet.runs_here:
        pytest.skip(f"needs Django {snippet.needs_django}: make test-next checks it")
    engine = DatasetRef(dataset).stats().engine
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
