from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST

from blog import datasets
from lessons.catalog import Lesson, Pair, Snippet, get_catalog
from lessons.explain import explain
from lessons.problems import shows_problems
from lessons.progress import Progress
from lessons.quiz import quiz_context
from lessons.report import gutter
from lessons.runs import SnippetRun, run_lesson_snippet
from lessons.scale import ScaleReport, measure, shared_report


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


@dataclass
class PairView:
    """A pair as the lesson page shows it: its cards and, once measured, its scale chart."""

    pair: Pair
    cards: list[Card]
    scale: ScaleReport | None
    autoload: bool  # draw the scale chart as soon as the page loads


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


def get_pair(lesson: Lesson, pair_id: str) -> Pair:
    try:
        return lesson.pairs_by_id[pair_id]
    except KeyError:
        raise Http404(f"Lesson {lesson.slug!r} has no pair {pair_id!r}.") from None


def chosen_dataset(value: str | None) -> str:
    """The dataset a request names (UnknownDataset if none such), or the default."""
    return datasets.get_spec(value or settings.COURSE_DEFAULT_DATASET).name


@require_GET
@shows_problems
def outline(request: HttpRequest) -> HttpResponse:
    dataset = chosen_dataset(request.GET.get("dataset"))
    catalog = get_catalog()
    overview = Progress(request.session).overview(catalog)
    context = {
        "catalog": catalog,
        "dataset": dataset,
        "progress": overview,
        "opened": sum(1 for p in overview.values() if p.opened),
        "correct": sum(p.correct for p in overview.values()),
        "questions": sum(p.questions for p in overview.values()),
    }
    return render(request, "lessons/outline.html", context)


@require_GET
@shows_problems
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_lesson(slug)
    dataset = chosen_dataset(request.GET.get("dataset"))
    progress = Progress(request.session)
    progress.mark_opened(lesson)
    return render(request, "lessons/lesson.html", lesson_context(request, lesson, dataset))


@require_POST
@shows_problems
def run(request: HttpRequest, slug: str) -> HttpResponse:
    """Run one snippet. htmx gets the snippet card back; a plain form post gets the whole page."""
    lesson = get_lesson(slug)
    snippet = get_snippet(lesson, request.POST.get("snippet", ""))
    dataset = chosen_dataset(request.POST.get("dataset"))
    snippet_run = run_lesson_snippet(lesson, snippet, dataset)
    Progress(request.session).mark_run(lesson, snippet.id)
    if request.headers.get("HX-Request"):
        card = Card(snippet, snippet_run.expected, snippet_run)
        context = {"card": card, "lesson": lesson, "dataset": dataset}
        return render(request, "lessons/_snippet_card.html", context)
    context = lesson_context(request, lesson, dataset, snippet_run)
    return render(request, "lessons/lesson.html", context)


@require_POST
@shows_problems
def scale(request: HttpRequest, slug: str) -> HttpResponse:
    """Run a pair on every dataset and chart it. htmx gets the chart; a form post the page."""
    lesson = get_lesson(slug)
    pair = get_pair(lesson, request.POST.get("pair", ""))
    dataset = chosen_dataset(request.POST.get("dataset"))
    # A click asks for a fresh measurement; the page-load request may share a recent one.
    fresh = request.POST.get("measure") == "fresh"
    report = ScaleReport(measure(lesson, pair)) if fresh else shared_report(lesson, pair)
    progress = Progress(request.session)
    for snippet in pair.snippets:
        progress.mark_run(lesson, snippet.id)
    if request.headers.get("HX-Request"):
        context = {"lesson": lesson, "pair": pair, "scale": report, "dataset": dataset}
        return render(request, "lessons/_scale.html", context)
    context = lesson_context(request, lesson, dataset, scale=(pair, report))
    return render(request, "lessons/lesson.html", context)


@require_POST
@shows_problems
def explain_query(request: HttpRequest) -> HttpResponse:
    plan = explain(request.POST.get("token", ""))
    template = "lessons/_plan.html" if request.headers.get("HX-Request") else "lessons/plan.html"
    return render(request, template, {"plan": plan})


def lesson_context(
    request: HttpRequest,
    lesson: Lesson,
    dataset: str,
    snippet_run: SnippetRun | None = None,
    scale: tuple[Pair, ScaleReport] | None = None,
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
    progress = Progress(request.session)
    return {
        **quiz_context(lesson.slug, list(lesson.quiz), progress),
        "answer_url": reverse("lessons:quiz-answer", args=[lesson.slug]),
        "lesson_progress": progress.for_lesson(lesson),
        "lesson": lesson,
        "part": next(p for p in catalog.parts if p.number == lesson.part),
        "blocks": [
            PairView(
                block,
                [card(s) for s in block.snippets],
                scale[1] if scale and scale[0] == block else None,
                autoload=block.id == lesson.chart,
            )
            if isinstance(block, Pair)
            else block
            for block in lesson.blocks
        ],
        "dataset": dataset,
        "datasets": list(datasets.SPECS.values()),
        "dataset_missing": missing,
        "previous": previous,
        "next": following,
    }
