"""Quizzes: shuffled choices, right and wrong answers with feedback, scores, tampering."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from lessons.catalog import get_catalog
from lessons.learner.quiz import choice_order, exam_questions
from tests.conftest import join_room, progress_of

LESSON = get_catalog().by_slug["n-plus-one"]
QUESTION = LESSON.quiz[0]


def answer_url(slug: str = LESSON.slug) -> str:
    return reverse("lessons:quiz-answer", args=[slug])


def shown_order(client: Client, question_id: str = QUESTION.id) -> list[int]:
    """The learner's choice order, computed from the seed kept in their session."""
    question = next(
        q for lesson in get_catalog().lessons for q in lesson.quiz if q.id == question_id
    )
    return choice_order(progress_of(client).seed, question)


def position_of(client: Client, original: int, question_id: str = QUESTION.id) -> int:
    return shown_order(client, question_id).index(original)


@pytest.fixture
def learner(client: Client, data: None) -> Client:
    client.get(reverse("lessons:detail", args=[LESSON.slug]))  # starts the session
    return client


def test_right_answer_gets_right_feedback_and_counts(learner: Client) -> None:
    position = position_of(learner, QUESTION.answer)

    response = learner.post(
        answer_url(), {"question": QUESTION.id, "choice": position}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>Right.</strong>" in html
    assert QUESTION.explain.replace("'", "&#x27;").replace('"', "&quot;") in html
    assert re.search(r'id="score-n-plus-one" hx-swap-oob="true"', html)
    assert f"<strong>1 / {len(LESSON.quiz)}</strong>" in html


def test_wrong_answer_shows_the_right_one_and_the_explanation(learner: Client) -> None:
    wrong = next(i for i in range(len(QUESTION.choices)) if i != QUESTION.answer)

    response = learner.post(
        answer_url(),
        {"question": QUESTION.id, "choice": position_of(learner, wrong)},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert "<strong>Not quite.</strong>" in html
    assert f"The answer is “{QUESTION.answer_text}”" in html
    assert f"<strong>0 / {len(LESSON.quiz)}</strong>" in html


def test_answer_without_javascript_redirects_back_to_the_question(learner: Client) -> None:
    response = learner.post(
        answer_url(), {"question": QUESTION.id, "choice": position_of(learner, QUESTION.answer)}
    )

    assert response.status_code == 302
    assert response["Location"].endswith(f"#q-{QUESTION.id}")
    page = learner.get(response["Location"].split("#")[0]).content.decode()
    assert "<strong>Right.</strong>" in page


@pytest.mark.parametrize(
    ("question", "choice", "message"),
    [
        ("n-plus-one-999", "0", "There is no question"),
        ("lazy-querysets-1", "0", "There is no question"),  # from another lesson's quiz
        (QUESTION.id, "99", "has no answer number 99"),
        (QUESTION.id, "-1", "has no answer number -1"),
        (QUESTION.id, "first", "is not one of the answers"),
        (QUESTION.id, "", "Pick one of the answers"),
    ],
)
def test_tampered_question_or_choice_is_400_with_a_message(
    learner: Client, question: str, choice: str, message: str
) -> None:
    response = learner.post(answer_url(), {"question": question, "choice": choice})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert progress_of(learner).answers(LESSON.slug) == {}


def test_choices_keep_their_order_within_a_session(learner: Client) -> None:
    url = reverse("lessons:detail", args=[LESSON.slug])

    first = rendered_choices(learner.get(url).content.decode())
    again = rendered_choices(learner.get(url).content.decode())

    assert first == again


def test_choice_order_differs_between_learners_in_a_room(room: object) -> None:
    """Neighbours in a workshop see the choices in different orders (on one's own machine the
    order only has to stay put)."""
    orders = {tuple(shown_order(join_room(f"learner {n}"))) for n in range(8)}

    assert len(orders) > 1


def test_rendered_choices_follow_the_learner_order(learner: Client) -> None:
    html = learner.get(reverse("lessons:detail", args=[LESSON.slug])).content.decode()

    expected = [QUESTION.choices[i] for i in shown_order(learner)]
    assert rendered_choices(html)[: len(expected)] == expected


def rendered_choices(html: str) -> list[str]:
    return re.findall(
        r'<input type="radio" name="choice" value="\d+" required>\s*<span>(.*?)</span>', html
    )


def test_exam_mixes_one_question_from_every_lesson(learner: Client) -> None:
    response = learner.get(reverse("lessons:exam"))

    html = response.content.decode()
    questions = exam_questions(get_catalog(), progress_of(learner).seed)
    assert response.status_code == 200
    assert len(questions) == len(get_catalog().lessons)
    assert {q.id.rsplit("-", 1)[0] for q in questions} == set(get_catalog().by_slug)
    for question in questions:
        assert f'value="{question.id}"' in html


def test_exam_answer_is_graded_and_kept_apart_from_the_lesson_quiz(learner: Client) -> None:
    [first, *_] = exam_questions(get_catalog(), progress_of(learner).seed)

    response = learner.post(
        reverse("lessons:exam-answer"),
        {"question": first.id, "choice": position_of(learner, first.answer, first.id)},
        HTTP_HX_REQUEST="true",
    )

    assert "<strong>Right.</strong>" in response.content.decode()
    progress = progress_of(learner)
    assert progress.answers("exam") == {first.id: first.answer}
    assert progress.answers(first.id.rsplit("-", 1)[0]) == {}


def test_exam_refuses_a_question_that_is_not_in_this_learners_exam(learner: Client) -> None:
    picked = {q.id for q in exam_questions(get_catalog(), progress_of(learner).seed)}
    outsider = next(
        q for lesson in get_catalog().lessons for q in lesson.quiz if q.id not in picked
    )

    response = learner.post(
        reverse("lessons:exam-answer"), {"question": outsider.id, "choice": "0"}
    )

    assert response.status_code == 400


def test_answer_without_javascript_keeps_the_chosen_dataset(learner: Client) -> None:
    response = learner.post(
        answer_url(),
        {
            "question": QUESTION.id,
            "choice": position_of(learner, QUESTION.answer),
            "dataset": "large",
        },
    )

    assert response["Location"] == f"/lessons/{LESSON.slug}/?dataset=large#q-{QUESTION.id}"


def answer(client: Client, original: int) -> str:
    position = position_of(client, original)
    response = client.post(
        answer_url(), {"question": QUESTION.id, "choice": position}, HTTP_HX_REQUEST="true"
    )
    return response.content.decode()


WRONG = next(i for i in range(len(QUESTION.choices)) if i != QUESTION.answer)


def test_the_score_counts_the_first_answer_not_a_retry(learner: Client) -> None:
    answer(learner, WRONG)

    html = answer(learner, QUESTION.answer)

    assert "<strong>Right.</strong>" in html  # the retry's own feedback
    assert f"<strong>0 / {len(LESSON.quiz)}</strong>" in html
    assert progress_of(learner).for_lesson(LESSON).correct == 0  # the outline's figure too


def test_a_right_first_answer_stays_scored_after_a_wrong_retry(learner: Client) -> None:
    answer(learner, QUESTION.answer)

    html = answer(learner, WRONG)

    assert "<strong>Not quite.</strong>" in html
    assert f"<strong>1 / {len(LESSON.quiz)}</strong>" in html


def test_a_retry_says_the_score_keeps_the_first_answer(learner: Client) -> None:
    answer(learner, WRONG)

    html = answer(learner, QUESTION.answer)

    assert "The score keeps your first answer (not right)" in html


def test_trying_every_choice_scores_nothing_on_the_outline(learner: Client) -> None:
    for choice in range(len(QUESTION.choices)):
        if choice != QUESTION.answer:
            answer(learner, choice)
    answer(learner, QUESTION.answer)

    outline = learner.get(reverse("lessons:outline")).content.decode()

    assert progress_of(learner).for_lesson(LESSON).correct == 0
    assert "0 / " in outline or "quiz 0/" in outline


def test_an_answer_updates_the_lessons_progress_line_out_of_band(learner: Client) -> None:
    html = answer(learner, QUESTION.answer)

    line = re.search(r'<p class="lesson-progress" id="lesson-progress"[^>]*>.*?</p>', html, re.S)
    assert line and 'hx-swap-oob="true"' in line[0]
    assert f"Quiz: <strong>1 / {len(LESSON.quiz)}</strong>" in line[0]
