"""Expected failures (a bad dataset name, an unseeded dataset, a tampered quiz answer, a forged
plan token) become a clear message with the right status, never a 500."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from blog.datasets import DatasetMissing, UnknownDataset
from lessons.explain import PlanRefused
from lessons.quiz import QuizTampered

STATUS: dict[type[Exception], int] = {
    UnknownDataset: 400,
    QuizTampered: 400,
    PlanRefused: 400,
    DatasetMissing: 503,
}
EXPECTED = tuple(STATUS)

View = Callable[..., HttpResponse]


def problem_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """The full page, or for htmx just the message, which the page shows beside the form."""
    template = "partials/problem.html" if request.headers.get("HX-Request") else "problem.html"
    return render(request, template, {"message": message}, status=status)


def shows_problems(view: View) -> View:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except EXPECTED as exc:
            return problem_response(request, STATUS[type(exc)], str(exc))

    return wrapper


def json_problems(view: View) -> View:
    """The JSON API's version: {"error": message}, 404s included."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except EXPECTED as exc:
            return JsonResponse({"error": str(exc)}, status=STATUS[type(exc)])
        except Http404 as exc:
            return JsonResponse({"error": str(exc)}, status=404)

    return wrapper
