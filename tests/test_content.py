"""A lint over the course content itself."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from lessons.catalog import get_catalog

CURRICULUM = Path(__file__).resolve().parents[2] / "shared" / "CURRICULUM.md"
LESSONS = get_catalog().lessons
# The curriculum's lesson slugs, in order (kept here so the suite does not depend on a file
# outside the repository).
CURRICULUM_SLUGS = [
    "lazy-querysets", "evaluation", "result-cache", "lookups", "q-objects", "f-expressions",
    "spanning", "n-plus-one", "select-related", "prefetch-related", "combining", "count-exists",
    "aggregate-annotate", "conditional-aggregation", "subqueries", "columns", "iterator", "bulk",
    "transactions", "raw-sql", "seeing-sql", "async-orm", "generated-fields", "gotchas",
]  # fmt: skip
MEMORY_LESSONS = ["count-exists", "iterator", "columns", "lazy-querysets"]


def by_id(lesson: object) -> str:
    return getattr(lesson, "slug", "")


def test_every_curriculum_lesson_is_in_the_course() -> None:
    assert [lesson.slug for lesson in LESSONS] == CURRICULUM_SLUGS


@pytest.mark.skipif(not CURRICULUM.exists(), reason="the curriculum file is not beside the repo")
def test_slug_list_matches_the_curriculum_file() -> None:
    slugs = re.findall(r"^\d+\. \*\*.+?\*\* \(`([a-z-]+)`\)", CURRICULUM.read_text(), re.M)
    assert slugs == CURRICULUM_SLUGS


def test_snippet_ids_are_unique_across_the_course() -> None:
    ids = Counter(snippet.id for lesson in LESSONS for snippet in lesson.snippets.values())
    assert [snippet_id for snippet_id, n in ids.items() if n > 1] == []


def test_question_ids_are_unique_across_the_course() -> None:
    ids = Counter(q.id for lesson in LESSONS for q in lesson.quiz)
    assert [question_id for question_id, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_lesson_has_a_bad_and_fixed_pair(lesson) -> None:
    assert any([s.side for s in pair.snippets] == ["bad", "fixed"] for pair in lesson.pairs)


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_lesson_has_at_least_three_questions_with_explanations(lesson) -> None:
    assert len(lesson.quiz) >= 3
    for question in lesson.quiz:
        assert question.text.strip() and question.explain.strip()
        assert len(set(question.choices)) == len(question.choices), "duplicate choices"
        assert 0 <= question.answer < len(question.choices)


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_answer_positions_are_not_all_the_same(lesson) -> None:
    assert len({question.answer for question in lesson.quiz}) > 1


@pytest.mark.parametrize("slug", MEMORY_LESSONS)
def test_memory_lessons_measure_peak_memory(slug: str) -> None:
    lesson = get_catalog().by_slug[slug]
    assert any(snippet.measure_memory for snippet in lesson.snippets.values())


def test_n_plus_one_draws_its_scale_chart_by_default() -> None:
    lesson = get_catalog().by_slug["n-plus-one"]
    assert lesson.chart in lesson.pairs_by_id
