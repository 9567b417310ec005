"""A lint over the course content itself."""

from __future__ import annotations

from collections import Counter

import pytest

from lessons.catalog import cue_scores, get_catalog, longest_answer_share

LESSONS = get_catalog().lessons
# The curriculum's lesson slugs, in order.
CURRICULUM_SLUGS = [
    "lazy-querysets", "evaluation", "result-cache", "lookups", "q-objects", "f-expressions",
    "spanning", "n-plus-one", "select-related", "prefetch-related", "combining", "count-exists",
    "aggregate-annotate", "conditional-aggregation", "subqueries", "columns", "iterator", "bulk",
    "transactions", "raw-sql", "seeing-sql", "async-orm", "generated-fields", "gotchas",
    "indexes", "reading-plans", "pagination", "top-n-per-group", "races",
    "fetch-modes", "postgresql",
]  # fmt: skip
MEMORY_LESSONS = ["count-exists", "iterator", "columns", "lazy-querysets"]


def by_id(lesson: object) -> str:
    return getattr(lesson, "slug", "")


def test_every_curriculum_lesson_is_in_the_course() -> None:
    assert [lesson.slug for lesson in LESSONS] == CURRICULUM_SLUGS


def test_snippet_ids_are_unique_across_the_course() -> None:
    ids = Counter(snippet.id for lesson in LESSONS for snippet in lesson.snippets.values())
    assert [snippet_id for snippet_id, n in ids.items() if n > 1] == []


def test_question_ids_are_unique_across_the_course() -> None:
    ids = Counter(q.id for lesson in LESSONS for q in lesson.quiz)
    assert [question_id for question_id, n in ids.items() if n > 1] == []


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_lesson_has_a_bad_and_fixed_pair(lesson) -> None:
    assert any([s.side for s in pair.snippets] == ["bad", "fixed"] for pair in lesson.pairs)


def test_picking_the_longest_choice_scores_at_most_25_percent() -> None:
    """The parser enforces it too (lessons.catalog.loader); this states the figure itself."""
    longest, total = longest_answer_share(LESSONS)

    assert longest <= 0.25 * total, f"the longest choice is right in {longest} of {total}"


def test_no_surface_cue_beats_guessing_or_loses_to_it_by_more_than_5_percent() -> None:
    """Each cue (the longest choice, the shortest, the one echoing the question's words) is
    scored on the questions where it points at one choice: the right answers it picks, less the
    ones a blind guess would pick there, must stay within 5% of all questions, either way. The
    loader refuses the course otherwise; `pytest -s` shows the figures."""
    questions = [question for lesson in LESSONS for question in lesson.quiz]

    scores = cue_scores(questions)

    for score in scores:
        print(score.describe())
    assert {score.cue for score in scores} == {"longest", "shortest", "echo"}
    assert [score.cue for score in scores if abs(score.excess) > 0.05 * len(questions)] == []


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_lesson_asks_a_predict_and_a_find_the_bug_question(lesson) -> None:
    assert {"predict", "bug"} <= {question.kind for question in lesson.quiz}


@pytest.mark.parametrize("slug", MEMORY_LESSONS)
def test_memory_lessons_measure_peak_memory(slug: str) -> None:
    lesson = get_catalog().by_slug[slug]
    assert any(snippet.measure_memory for snippet in lesson.snippets.values())


def test_n_plus_one_draws_its_scale_chart_by_default() -> None:
    lesson = get_catalog().by_slug["n-plus-one"]
    assert lesson.chart in lesson.pairs_by_id


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_one_your_turn_heading_leads_into_the_exercises(lesson) -> None:
    text = lesson.path.read_text()
    first_exercise = text.index("````exercise")

    assert text.count("\n## Your turn\n") == 1
    # No other section starts between the heading and the first exercise.
    assert "\n## " not in text[text.index("\n## Your turn\n") + 1 : first_exercise]
