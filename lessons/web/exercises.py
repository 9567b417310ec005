"""Exercises on the lesson page and in the JSON API: check an answer, reveal the solution.

Checking runs the learner's code, so it follows COURSE_EDITING like every other run of learner
code. The solution is never in the page before it is revealed."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from lessons import datasets
from lessons.catalog import Exercise
from lessons.catalog.models import RULES
from lessons.measure.exercises import DatasetVerdict, Verdict, check
from lessons.web.editing import require_editing
from lessons.web.identity import learner_id, progress_for
from lessons.web.lookups import get_exercise
from lessons.web.render import is_htmx, posted_code
from lessons.web.viewmodels import ExerciseView

# After this many failed checks the solution is offered outright.
OFFER_SOLUTION_AFTER = 2


def _check(request: HttpRequest, exercise: Exercise) -> tuple[str, Verdict, dict[str, Any]]:
    require_editing(request)
    code = posted_code(request)
    assert code is not None
    verdict = check(exercise, code, learner=learner_id(request))
    progress = progress_for(request)
    progress.record_check(exercise.id, verdict.passed, failure_label(verdict))
    return code, verdict, progress.exercise(exercise.id)


@require_POST
def check_page(request: HttpRequest, slug: str) -> HttpResponse:
    """htmx gets the verdict (and the lesson's progress, out of band); a plain post a page."""
    lesson, exercise = get_exercise(request.POST.get("exercise", ""))
    if lesson.slug != slug:
        raise Http404("That exercise belongs to another lesson.")
    code, verdict, state = _check(request, exercise)
    context = {
        "code": code,
        "lesson": lesson,
        "exercise": exercise,
        "verdict": verdict,
        "explained": explain(verdict),
        "state": state,
        "offer_solution": not verdict.passed and state["failed"] >= OFFER_SOLUTION_AFTER,
        "lesson_progress": progress_for(request).for_lesson(lesson),
        "dom_id": ExerciseView(exercise, state).dom_id,  # its badge on the page, out of band
    }
    template = (
        "lessons/_exercise_verdict.html" if is_htmx(request) else "lessons/exercise_verdict.html"
    )
    return render(request, template, context)


@require_POST
def solution_page(request: HttpRequest, slug: str) -> HttpResponse:
    lesson, exercise = get_exercise(request.POST.get("exercise", ""))
    if lesson.slug != slug:
        raise Http404("That exercise belongs to another lesson.")
    progress_for(request).record_reveal(exercise.id)
    context = {"lesson": lesson, "exercise": exercise}
    template = (
        "lessons/_exercise_solution.html" if is_htmx(request) else "lessons/exercise_solution.html"
    )
    return render(request, template, context)


@require_POST
def check_api(request: HttpRequest, exercise_id: str) -> JsonResponse:
    _, exercise = get_exercise(exercise_id)
    _, verdict, _ = _check(request, exercise)
    return JsonResponse(
        {
            "exercise": exercise.id,
            "passed": verdict.passed,
            "rule_broken": verdict.rule_broken,
            "results": [_result_json(result) for result in verdict.results],
        }
    )


@require_POST
def solution_api(request: HttpRequest, exercise_id: str) -> JsonResponse:
    _, exercise = get_exercise(exercise_id)
    progress_for(request).record_reveal(exercise.id)
    return JsonResponse({"exercise": exercise.id, "code": exercise.solution})


def _result_json(result: DatasetVerdict) -> dict[str, Any]:
    difference = result.first_difference
    return {
        "dataset": result.dataset,
        "passed": result.passed,
        "query_count": result.query_count,
        "budget": result.budget,
        "output_matches": result.output_matches,
        "first_difference": None
        if difference is None
        else {"line": difference.line, "expected": difference.expected, "got": difference.got},
        "rule_broken": None,
        "error": None
        if result.error is None
        else {
            "type": result.error.type,
            "message": result.error.message,
            "line": result.error.line,
        },
        "usage": result.usage,
        "costs": [
            {
                "cost": check.cost,
                "measured": check.measured,
                "budget": check.budget,
                "passed": check.passed,
                "message": check.message or None,
                "line": check.line if not check.passed else None,
            }
            for check in result.costs
        ],
    }


def _where(result: DatasetVerdict) -> str:
    if result.hidden:
        return "the hidden check dataset"
    spec = datasets.ALL_SPECS.get(result.dataset)
    return f"{spec.label} ({spec.posts:,} posts)" if spec else f"the {result.dataset} dataset"


def explain(verdict: Verdict) -> str:
    """One sentence on why a check failed (empty when it passed). Nothing of the hidden dataset's
    expected output is in it: a difference is shown from a visible dataset, where there is one."""
    if verdict.rule_broken:
        return f"Your code breaks a rule of this exercise: {RULES[verdict.rule_broken]}"
    failure = verdict.failure
    if failure is None:
        return ""
    where = _where(failure)
    if failure.untrusted:
        return f"On {where} your code {failure.untrusted.message}"
    if failure.error:
        line = f" on line {failure.error.line}" if failure.error.line else ""
        return f"On {where} your code raised {failure.error.type}{line}: {failure.error.message}"
    if not failure.output_matches:
        if failure.hidden:
            shown = next((r for r in verdict.results if r.first_difference), None)
            also = (
                f" It differs on {_where(shown)} too: see below."
                if shown
                else " It matches on the visible datasets: look for what your code assumes "
                "about the data (an order left to chance, a fixed id, a count)."
            )
            return f"On {where} your output differs from the expected output.{also}"
        return f"On {where} your output differs from the expected output."
    if failure.over_budget:
        line = f", most of them from line {failure.busiest_line}" if failure.busiest_line else ""
        return (
            f"On {where} your code sent {failure.query_count:,} queries, budget "
            f"{failure.budget:,}{line}."
        )
    over = failure.cost_failure
    assert over is not None, "a failure is its output, its queries or another cost"
    line = f" (mostly line {over.line})" if over.line else ""
    return f"On {where} your code {over.message}{line}."


def failure_label(verdict: Verdict) -> str:
    """Why a check failed, in a few words the instructor's console counts ("" when it passed)."""
    if verdict.rule_broken:
        return f"rule: {verdict.rule_broken}"
    failure = verdict.failure
    if failure is None:
        return ""
    if failure.untrusted:
        return "count not trusted"
    if failure.error:
        return f"error: {failure.error.type}"
    if not failure.output_matches:
        return "wrong output"
    if failure.over_budget:
        return "over budget"
    over = failure.cost_failure
    return f"over budget: {over.cost}" if over else "over budget"
