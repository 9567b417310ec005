"""Every claim the course makes about query counts, checked on every dataset."""

from __future__ import annotations

import pytest

from blog import datasets
from lessons.catalog import get_catalog
from lessons.measure.runs import run_lesson_snippet

SNIPPETS = [
    pytest.param(lesson, snippet, id=f"{lesson.slug}:{snippet.id}")
    for lesson in get_catalog().lessons
    for snippet in lesson.snippets.values()
]


@pytest.mark.parametrize(("lesson", "snippet"), SNIPPETS)
def test_snippet_matches_its_expect(lesson, snippet, dataset: str) -> None:
    run = run_lesson_snippet(lesson, snippet, dataset)

    if snippet.raises:
        assert run.error_expected, f"{snippet.id} should raise {snippet.raises}: {run.result.error}"
    else:
        assert run.result.error is None, run.result.error
    expected = snippet.expected_count(datasets.stats(dataset).counts)
    assert run.result.query_count == expected, (
        f"{snippet.id} on {dataset}: measured {run.result.query_count}, "
        f"expect {snippet.expect!r} says {expected}"
    )


def test_the_first_three_lessons_are_in_the_catalog() -> None:
    assert {"lazy-querysets", "evaluation", "n-plus-one"} <= set(get_catalog().by_slug)


def test_every_pair_has_a_bad_and_a_fixed_side() -> None:
    for lesson in get_catalog().lessons:
        for pair in lesson.pairs:
            sides = [snippet.side for snippet in pair.snippets]
            assert sides in (["bad", "fixed"], ["demo"]), (lesson.slug, pair.id, sides)
