"""Quiz answers (per lesson and the final exam), the exam page, the review page and the progress
reset."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from lessons.catalog import Lesson, Question, get_catalog
from lessons.datasets import DatasetRef
from lessons.errors import shorten
from lessons.learner import review
from lessons.learner.progress import EXAM
from lessons.learner.quiz import (
    QuizTampered,
    ShownQuestion,
    choice_order,
    exam_questions,
    quiz_context,
    resolve_answer,
)
from lessons.learner.votes import open_rounds, record_vote
from lessons.web.identity import current_room, progress_for
from lessons.web.lookups import get_lesson
from lessons.web.render import is_htmx


@require_POST
def answer_lesson(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_lesson(slug)
    url = reverse("lessons:detail", args=[slug])
    return _answer(request, lesson.slug, list(lesson.quiz), url, lesson)


@require_POST
def answer_exam(request: HttpRequest) -> HttpResponse:
    questions = exam_questions(get_catalog(), progress_for(request).seed)
    return _answer(request, EXAM, questions, reverse("lessons:exam"))


def _answer(
    request: HttpRequest,
    quiz: str,
    questions: list[Question],
    page: str,
    lesson: Lesson | None = None,
) -> HttpResponse:
    """The answered question, its quiz's score and, on a lesson, the lesson's progress line, all
    swapped in at once (the last two out of band)."""
    progress = progress_for(request)
    dataset = DatasetRef.from_request(request)
    question, choice = resolve_answer(
        questions, progress.seed, request.POST.get("question", ""), request.POST.get("choice")
    )
    progress.record_answer(quiz, question, choice)
    voting = open_rounds(current_room(request), quiz) if quiz != EXAM else {}
    if question.id in voting and progress.learner is not None:
        record_vote(progress.learner, quiz, question.id, voting[question.id], choice)
    if not is_htmx(request):
        return redirect(f"{dataset.in_url(page)}#q-{question.id}")
    context = quiz_context(quiz, questions, progress, voting)
    shown = next(q for q in context["questions"] if q.question.id == question.id)  # type: ignore[attr-defined]
    return render(
        request,
        "lessons/_question_answered.html",
        {
            **context,
            "sq": shown,
            "answer_url": request.path,
            "dataset": dataset.size,
            "engine": dataset.engine,
            "lesson_progress": progress.for_lesson(lesson) if lesson else None,
        },
    )


@require_GET
def exam(request: HttpRequest) -> HttpResponse:
    progress = progress_for(request)
    questions = exam_questions(get_catalog(), progress.seed)
    context = quiz_context(EXAM, questions, progress)
    return render(
        request,
        "lessons/exam.html",
        {
            **context,
            "answer_url": reverse("lessons:exam-answer"),
            "dataset": DatasetRef.from_request(request, engine=False).size,
        },
    )


@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    """The questions due for review, across lessons; without JavaScript the page an answer comes
    back to also shows that answer graded (`?answered=<question id>`)."""
    progress = progress_for(request)
    catalog = get_catalog()
    schedule = review.read(progress.learner, catalog)
    answered = review.one(progress.learner, catalog, request.GET.get("answered", ""))
    graded = answered.question.id if answered else ""
    items = [
        _item(progress.seed, due, number, graded=due.question.id == graded)
        for number, due in enumerate(schedule.due, 1)
    ]
    if answered and all(due.question.id != graded for due in schedule.due):
        items.insert(0, _item(progress.seed, answered, 0, graded=True))  # answered right: not due
    return render(
        request,
        "lessons/review.html",
        {
            "schedule": schedule,
            "items": items,
            "due_count": len(schedule.due) + schedule.waiting,
            "answer_url": reverse("lessons:review-answer"),
        },
    )


@require_POST
def answer_review(request: HttpRequest) -> HttpResponse:
    """A review answer, graded as the quizzes grade: it moves the question in the schedule."""
    progress = progress_for(request)
    catalog = get_catalog()
    question_id = request.POST.get("question", "")
    found = review.questions(catalog).get(question_id)
    if found is None:
        raise QuizTampered(f"There is no question {shorten(question_id)} to review.")
    lesson = found[0]
    question, choice = resolve_answer(
        list(lesson.quiz), progress.seed, question_id, request.POST.get("choice")
    )
    progress.record_review(lesson, question, choice)
    if not is_htmx(request):
        return redirect(f"{reverse('lessons:review')}?answered={question.id}#q-{question.id}")
    due = review.one(progress.learner, catalog, question.id) or review.Due(
        lesson, question, 1, timezone.now(), choice
    )
    posted = request.POST.get("number", "")
    number = int(posted) if posted.isdigit() and len(posted) <= 3 else 0  # where it stood
    return render(
        request,
        "lessons/_review_answered.html",
        {
            **_item(progress.seed, due, number, graded=True),
            "answer_url": request.path,
            "due_count": progress.due(catalog),
        },
    )


def _item(seed: int, due: review.Due, number: int, *, graded: bool = False) -> dict[str, object]:
    """One review question as the quiz partial draws it: unanswered while due, graded after."""
    chosen = due.choice if graded else None
    shown = ShownQuestion(due.question, choice_order(seed, due.question), chosen, number, chosen)
    return {"due": due, "sq": shown, "review": True}


@require_POST
def reset_progress(request: HttpRequest) -> HttpResponse:
    progress_for(request).reset()
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("lessons:outline")
    return redirect(target)
