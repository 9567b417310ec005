from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from blog import datasets
from lessons.catalog import Lesson, Pair, Snippet, get_catalog
from lessons.report import gutter
from lessons.runs import SnippetRun, run_lesson_snippet


@dataclass
class Card:
    """A snippet as the lesson page shows it, with its run panel when it has been run."""

    snippet: Snippet
    expected: int | None
    run: SnippetRun | None = None

    @property
    def dom_id(self) -> str:
        return "card-" + self.snippet.id.replace(".", "-")

    @property
    def lines(self) -> Iterable[tuple[int, SafeString, int]]:
        return gutter(self.snippet.code, self.run.report.lines if self.run else {})

    @property
    def error_line(self) -> int | None:
        error = self.run.result.error if self.run else None
        return error.line if error else None


class Problem(Exception):
    """A request we cannot serve, with a message for the learner and an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    template = "partials/problem.html" if request.headers.get("HX-Request") else "problem.html"
    return render(request, template, {"message": str(problem)}, status=problem.status)


def get_lesson(slug: str) -> Lesson:
    try:
        return get_catalog().by_slug[slug]
    except KeyError:
        raise Http404(f"No lesson called {slug!r}.") from None


def get_snippet(lesson: Lesson, snippet_id: str) -> Snippet:
    try:
        return lesson.snippets[snippet_id]
    except KeyError:
        raise Http404(f"Lesson {lesson.slug!r} has no snippet {snippet_id!r}.") from None


def chosen_dataset(value: str | None) -> str:
    name = value or datasets.active()
    try:
        datasets.get_spec(name)
    except datasets.UnknownDataset as exc:
        raise Problem(400, str(exc)) from None
    return name


def run_or_problem(lesson: Lesson, snippet: Snippet, dataset: str) -> SnippetRun:
    try:
        return run_lesson_snippet(lesson, snippet, dataset)
    except datasets.DatasetMissing as exc:
        raise Problem(503, str(exc)) from None


@require_GET
def outline(request: HttpRequest) -> HttpResponse:
    try:
        dataset = chosen_dataset(request.GET.get("dataset"))
    except Problem as problem:
        return problem_response(request, problem)
    return render(request, "lessons/outline.html", {"catalog": get_catalog(), "dataset": dataset})


@require_GET
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_lesson(slug)
    try:
        dataset = chosen_dataset(request.GET.get("dataset"))
    except Problem as problem:
        return problem_response(request, problem)
    return render(request, "lessons/lesson.html", lesson_context(lesson, dataset))


@require_POST
def run(request: HttpRequest, slug: str) -> HttpResponse:
    """Run one snippet. htmx gets the snippet card back; a plain form post gets the whole page."""
    lesson = get_lesson(slug)
    snippet = get_snippet(lesson, request.POST.get("snippet", ""))
    try:
        dataset = chosen_dataset(request.POST.get("dataset"))
        snippet_run = run_or_problem(lesson, snippet, dataset)
    except Problem as problem:
        return problem_response(request, problem)
    if request.headers.get("HX-Request"):
        card = Card(snippet, snippet_run.expected, snippet_run)
        context = {"card": card, "lesson": lesson, "dataset": dataset}
        return render(request, "lessons/_snippet_card.html", context)
    return render(request, "lessons/lesson.html", lesson_context(lesson, dataset, snippet_run))


def lesson_context(
    lesson: Lesson, dataset: str, snippet_run: SnippetRun | None = None
) -> dict[str, Any]:
    catalog = get_catalog()
    try:
        counts: dict[str, int] | None = datasets.stats(dataset).counts
    except datasets.DatasetMissing as exc:
        counts, missing = None, str(exc)
    else:
        missing = ""

    def card(snippet: Snippet) -> Card:
        expected = snippet.expected_count(counts) if counts is not None else None
        run = snippet_run if snippet_run and snippet_run.snippet == snippet else None
        return Card(snippet, expected, run)

    previous, following = catalog.neighbours(lesson)
    return {
        "lesson": lesson,
        "part": next(p for p in catalog.parts if p.number == lesson.part),
        "blocks": [
            (block, [card(s) for s in block.snippets]) if isinstance(block, Pair) else (block, [])
            for block in lesson.blocks
        ],
        "dataset": dataset,
        "datasets": list(datasets.SPECS.values()),
        "dataset_missing": missing,
        "previous": previous,
        "next": following,
    }
