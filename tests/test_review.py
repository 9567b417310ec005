"""Review: quiz questions come back on a Leitner schedule, wrong ones at once and right ones after
a rest that grows, across lessons and the exam; answered on the review page with the quizzes'
grading, counted on the outline, kept as rows and in the room's CSV."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import close_old_connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lessons.catalog import Question, get_catalog
from lessons.learner import review
from lessons.learner.models import Learner, Review, Room
from lessons.learner.quiz import choice_order, exam_questions
from tests.conftest import join_room, progress_of

LESSON = get_catalog().by_slug["n-plus-one"]
QUESTION = LESSON.quiz[0]
OTHER = get_catalog().by_slug["select-related"].quiz[1]


def position(client: Client, question: Question, right: bool) -> int:
    """Where the right (or a wrong) choice sits in the order this learner sees."""
    order = choice_order(progress_of(client).seed, question)
    wrong = next(i for i in range(len(question.choices)) if i != question.answer)
    return order.index(question.answer if right else wrong)


def answer_quiz(client: Client, question: Question, right: bool, slug: str = LESSON.slug) -> None:
    client.post(
        reverse("lessons:quiz-answer", args=[slug]),
        {"question": question.id, "choice": position(client, question, right)},
    )


def answer_review(client: Client, question: Question, right: bool, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("lessons:review-answer"),
        {"question": question.id, "choice": position(client, question, right), "number": "1"},
        **headers,
    )


def row(client: Client, question: Question = QUESTION) -> Review:
    return Review.objects.get(learner=client.session["learner"], question=question.id)


def learner(client: Client) -> Learner:
    return Learner.objects.get(pk=client.session["learner"])


def test_a_wrong_answer_is_due_for_review_at_once(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    html = client.get(reverse("lessons:review")).content.decode()

    assert f'id="q-{QUESTION.id}"' in html
    assert "<strong>1</strong> question due for review" in html
    assert (row(client).box, row(client).due_at <= timezone.now()) == (1, True)


def test_the_outline_says_how_many_questions_are_due(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)
    answer_quiz(client, LESSON.quiz[1], right=False)

    html = client.get(reverse("lessons:outline")).content.decode()

    assert "<strong>2</strong> questions due for review" in html


def test_a_right_first_answer_rests_a_day_and_is_not_due(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=True)

    html = client.get(reverse("lessons:review")).content.decode()

    assert f'id="q-{QUESTION.id}"' not in html
    assert "are resting" in html
    assert row(client).box == 2
    assert timedelta(hours=23) < row(client).due_at - timezone.now() <= timedelta(days=1)
    assert "due for review" not in client.get(reverse("lessons:outline")).content.decode()


def test_right_answers_climb_the_boxes_and_rest_longer_each_time(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=True)
    boxes = []
    for _ in range(5):
        answer_review(client, QUESTION, right=True)
        boxes.append(
            (row(client).box, round((row(client).due_at - timezone.now()) / timedelta(days=1)))
        )

    assert boxes == [(3, 3), (4, 7), (5, 21), (5, 21), (5, 21)]


def test_a_wrong_answer_sends_a_question_back_to_box_one(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=True)
    answer_review(client, QUESTION, right=True)

    answer_review(client, QUESTION, right=False)

    assert (row(client).box, row(client).due_at <= timezone.now(), row(client).seen) == (1, True, 3)


def test_a_review_answer_is_graded_as_the_quiz_grades_it(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    html = answer_review(client, QUESTION, right=True, HTTP_HX_REQUEST="true").content.decode()

    assert "<strong>Right.</strong>" in html and QUESTION.explain in html
    assert "Up to box 2 of 5" in html
    assert 'id="review-count" role="status" hx-swap-oob="true">Nothing is due' in html


def test_a_wrong_review_answer_shows_the_right_one_and_stays_due(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    html = answer_review(client, QUESTION, right=False, HTTP_HX_REQUEST="true").content.decode()

    assert f"The answer is “{QUESTION.answer_text}”" in html
    assert "Back to box 1" in html
    assert "<strong>1</strong> question due" in html


def test_a_review_answer_leaves_the_lessons_quiz_as_it_was(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    answer_review(client, QUESTION, right=True)

    progress = progress_of(client)
    assert progress.latest_answers(LESSON.slug)[QUESTION.id] != QUESTION.answer
    assert progress.for_lesson(LESSON).correct == 0


def test_without_javascript_the_answer_comes_back_graded_on_the_review_page(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    response = answer_review(client, QUESTION, right=True)
    html = client.get(response["Location"]).content.decode()

    assert response.status_code == 302
    assert response["Location"] == f"/review/?answered={QUESTION.id}#q-{QUESTION.id}"
    assert "<strong>Right.</strong>" in html and "Up to box 2 of 5" in html


def test_without_javascript_a_wrong_answer_comes_back_graded_too(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    response = answer_review(client, QUESTION, right=False)
    html = client.get(response["Location"]).content.decode()

    assert html.count(f'id="q-{QUESTION.id}"') == 1
    assert "<strong>Not quite.</strong>" in html


def test_questions_from_several_lessons_come_back_the_longest_waiting_first(data: None) -> None:
    client = Client()
    answer_quiz(client, OTHER, right=False, slug="select-related")
    answer_quiz(client, QUESTION, right=False)

    html = client.get(reverse("lessons:review")).content.decode()

    assert html.index(f'id="q-{OTHER.id}"') < html.index(f'id="q-{QUESTION.id}"')
    assert 'From <a href="/lessons/select-related/' in html


def test_an_exam_answer_schedules_the_question_under_its_lesson(data: None) -> None:
    client = Client()
    client.get(reverse("lessons:exam"))
    question = exam_questions(get_catalog(), 0)[0]  # a local learner's seed
    client.post(
        reverse("lessons:exam-answer"),
        {"question": question.id, "choice": position(client, question, right=False)},
    )

    kept = row(client, question)
    assert kept.quiz == review.lesson_of(get_catalog(), question) != "exam"
    assert kept.box == 1


def test_a_question_no_quiz_has_is_refused(data: None) -> None:
    response = Client().post(
        reverse("lessons:review-answer"), {"question": "nope-1", "choice": "0"}
    )

    assert response.status_code == 400
    assert "There is no question &#x27;nope-1&#x27; to review." in response.content.decode()


def test_a_visitor_sees_an_empty_review_and_stores_nothing(data: None) -> None:
    before = Learner.objects.count()

    html = Client().get(reverse("lessons:review")).content.decode()

    assert "There is nothing to review yet" in html
    assert Learner.objects.count() == before


def test_overlapping_answers_of_one_learner_keep_one_row_that_counts_both(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)
    progress = progress_of(client)

    def again(_: int) -> None:
        try:
            progress.record_review(LESSON, QUESTION, QUESTION.answer)
        finally:
            close_old_connections()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(again, range(4)))

    assert Review.objects.filter(learner=learner(client), question=QUESTION.id).count() == 1
    assert row(client).seen == 5


def test_a_reset_forgets_the_schedule(data: None) -> None:
    client = Client()
    answer_quiz(client, QUESTION, right=False)

    client.post(reverse("lessons:progress-reset"))

    assert not Review.objects.filter(learner=learner(client)).exists()


def test_the_rooms_export_has_the_review_schedule(room: Room) -> None:
    from tests.test_console import console_url

    client = join_room("Ana")
    answer_quiz(client, QUESTION, right=False)

    text = Client().get(console_url(room, "export")).content.decode()
    section = text.split("\r\n\r\nreview schedule\r\n", 1)[1].split("\r\n\r\n", 1)[0]
    (kept,) = csv.DictReader(io.StringIO(section))

    assert (kept["learner"], kept["lesson"], kept["question"], kept["box"]) == (
        "Ana",
        LESSON.slug,
        QUESTION.id,
        "1",
    )


def test_the_page_shows_a_few_at_a_time_and_says_how_many_wait(data: None) -> None:
    shown = review.SHOWN
    client = Client()
    questions = [q for lesson in get_catalog().lessons for q in lesson.quiz][: shown + 2]
    for question in questions:
        slug = review.lesson_of(get_catalog(), question)
        answer_quiz(client, question, right=False, slug=slug)

    html = client.get(reverse("lessons:review")).content.decode()

    assert html.count('class="review-item"') == shown
    assert "2 more after these" in html
