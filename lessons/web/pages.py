"""The course's pages: the outline, a lesson, and the forms on it (run, run on every size,
explain). Each form answers htmx with the fragment it swaps and a plain post with the page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from lessons import engine
from lessons.catalog import Catalog, Lesson, Snippet, get_catalog
from lessons.catalog.search import index_for
from lessons.datasets import DatasetRef
from lessons.display.fragments import drawn_once
from lessons.errors import CourseError
from lessons.learner import predictions
from lessons.learner.progress import LessonProgress, Progress
from lessons.learner.votes import open_rounds
from lessons.measure.explain import explain
from lessons.measure.runs import CodeRun, SnippetRun, is_edit, run_learner_code, run_lesson_snippet
from lessons.measure.scale import MeasurementPending, ScaleReport, measure, shared_report
from lessons.web import kept_runs
from lessons.web.editing import require_editing
from lessons.web.identity import current_room, learner_id, progress_for
from lessons.web.lookups import get_lesson, get_pair, get_snippet
from lessons.web.render import is_htmx, page_or_partial, posted_code
from lessons.web.viewmodels import Card, ScaleView, asking, lesson_context, unmeasurable


class NotRunHere(CourseError):
    status = 409


@require_GET
def outline(request: HttpRequest) -> HttpResponse:
    dataset = DatasetRef.from_request(request, engine=False)
    catalog = get_catalog()
    progress = progress_for(request)
    overview = progress.overview(catalog)
    context = {
        "due": progress.due(catalog),
        "catalog": catalog,
        "dataset": dataset.size,
        "lines": _outline_lines(catalog, dataset.size, overview),
        "opened": sum(1 for p in overview.values() if p.opened),
        "correct": sum(p.correct for p in overview.values()),
        "questions": sum(p.questions for p in overview.values()),
        "predicted": sum(p.predicted for p in overview.values()),
        "predicted_exact": sum(p.predicted_exact for p in overview.values()),
        "predicted_close": sum(p.predicted_close for p in overview.values()),
    }
    return render(request, "lessons/outline.html", context)


def _outline_lines(
    catalog: Catalog, size: str, overview: dict[str, LessonProgress]
) -> dict[str, str]:
    """Each lesson's line in the outline, with its badges: drawn once per state of progress in
    this process, since most learners' lines for a lesson look alike (a room of 200 asks for the
    outline a dozen times a second)."""

    def line(lesson: Lesson) -> str:
        p = overview[lesson.slug]
        context = {"lesson": lesson, "p": p, "dataset": size, "first": lesson is catalog.lessons[0]}
        return drawn_once(
            ("outline", lesson.slug, size, p),
            lambda: render_to_string("lessons/_outline_lesson.html", context),
        )

    return {lesson.slug: line(lesson) for lesson in catalog.lessons}


def lesson_url(lesson: Lesson) -> str:
    return reverse("lessons:detail", args=[lesson.slug])


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """Lessons, sections, snippets and exercises whose words match the query, best first."""
    query = request.GET.get("q", "").strip()
    hits = index_for(get_catalog()).search(query) if query else []
    return render(request, "lessons/search.html", {"query": query, "hits": hits})


@require_GET
def lesson_detail(request: HttpRequest, slug: str) -> HttpResponse:
    lesson = get_lesson(slug)
    dataset = DatasetRef.from_request(request)
    progress = progress_for(request)
    if progress.learner is not None:
        progress.mark_opened(lesson)
    ran = (
        kept_runs.recall(request, lesson, request.GET.get("ran", ""))
        if "ran" in request.GET
        else None
    )
    voting = open_rounds(current_room(request), lesson.slug)
    outcome = _kept_outcome(progress, ran)
    context = lesson_context(progress, lesson, dataset, ran, outcome=outcome, voting=voting)
    if "ran" in request.GET and ran is None:
        context["run_notice"] = (
            "That run is no longer kept here (after ten minutes, or on another server): "
            "press Run to run it again."
        )
    # A visitor with no learner yet: the page tells the server it was opened, if a browser
    # shows it (so a crawler or a one-off request stores nothing).
    context["opened_beacon"] = progress.learner is None and not settings.COURSE_ROOM
    return render(request, "lessons/lesson.html", context)


def _kept_outcome(
    progress: Progress, run: SnippetRun | CodeRun | None
) -> predictions.Outcome | None:
    """The prediction before a kept run (the page after a run without JavaScript)."""
    if not isinstance(run, SnippetRun) or run.result.error is not None:
        return None
    row = predictions.kept(progress.learner, run.lesson.slug, run.snippet.id, run.stats.name)
    if row is None or row.actual is None:
        return None
    guess = predictions.Guess(row.guess, row.said)
    return predictions.outcome(guess, row.actual, run.snippet, run.stats)


@require_POST
def run(request: HttpRequest, slug: str) -> HttpResponse:
    """Run one snippet, or the learner's edit of it (posted as `code`). htmx gets the snippet
    card (and the lesson's progress, out of band)."""
    lesson = get_lesson(slug)
    snippet = get_snippet(lesson, request.POST.get("snippet", ""))
    dataset = DatasetRef.from_request(request)
    code = posted_code(request, required=False)
    progress = progress_for(request)
    snippet_run: SnippetRun | CodeRun
    outcome = None
    if code is not None and is_edit(snippet, code):
        require_editing(request)
        snippet_run = run_learner_code(
            code, dataset, learner=learner_id(request), lesson=lesson, snippet=snippet
        )
    else:
        guess = _guess(request, progress, lesson, snippet, dataset)  # before: it is a prediction
        snippet_run = run_lesson_snippet(lesson, snippet, dataset, learner=learner_id(request))
        progress.mark_run(lesson, snippet.id)
        if guess is not None:
            outcome = _keep_prediction(progress, snippet_run, guess, dataset)
    if is_htmx(request):
        context = {
            "card": Card.on(snippet, snippet_run.stats, snippet_run, outcome=outcome),
            "lesson": lesson,
            "dataset": dataset.size,
            "engine": dataset.engine,
            "lesson_progress": progress.for_lesson(lesson),
        }
        return render(request, "lessons/_snippet_card_run.html", context)
    # Without JavaScript: the lesson showing this run, by a redirect, so a reload does not post
    # the run again.
    token = kept_runs.keep(request, snippet_run)
    card = Card.on(snippet, snippet_run.stats, snippet_run)
    return redirect(f"{dataset.in_url(lesson_url(lesson))}&ran={token}#{card.dom_id}")


def _guess(
    request: HttpRequest, progress: Progress, lesson: Lesson, snippet: Snippet, dataset: DatasetRef
) -> predictions.Guess | None:
    """The prediction posted with a snippet's first run on this dataset, when the learner's
    cards ask for one (None when skipped, or not asked: a second run predicts nothing)."""
    if not asking(progress) or snippet.id in progress.predicted(lesson, dataset.size):
        return None
    return predictions.read_guess(request.POST.get("predict", ""), dataset.stats().counts)


def _keep_prediction(
    progress: Progress, run: SnippetRun, guess: predictions.Guess, dataset: DatasetRef
) -> predictions.Outcome | None:
    learner = progress.enrolled()
    ran = run.result.error is None and run.ran
    actual = run.result.query_count if ran else None
    if learner is not None:
        predictions.record(learner, run.lesson.slug, run.snippet.id, dataset.size, guess, actual)
    if actual is None:
        return None
    return predictions.outcome(guess, actual, run.snippet, run.stats)


@require_POST
def set_predicting(request: HttpRequest) -> HttpResponse:
    """The learner's choice: ask for a prediction before a snippet's first run, or not."""
    learner = progress_for(request).enrolled()
    if learner is None:
        raise NotRunHere("Join the room first: predictions are kept for a learner.")
    predictions.set_asking(learner, request.POST.get("on") == "1")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}) or not target.startswith(
        "/"
    ):
        target = reverse("lessons:outline")
    return redirect(target)


@require_POST
def scale(request: HttpRequest, slug: str) -> HttpResponse:
    """Run a pair on every dataset and chart it. A click measures afresh and counts as running
    the pair; the chart a page draws as it loads shares a recent measurement and counts as nothing
    the learner did."""
    lesson = get_lesson(slug)
    pair = get_pair(lesson, request.POST.get("pair", ""))
    dataset = DatasetRef.from_request(request)
    if reason := unmeasurable(pair, dataset.engine):
        raise NotRunHere(f"Measuring this pair on every data size needs {reason}.")
    progress = progress_for(request)
    if request.POST.get("measure") == "fresh":
        series = measure(lesson, pair, learner=learner_id(request), engine=dataset.engine)
        report = ScaleReport(series)
        for snippet in pair.snippets:
            progress.mark_run(lesson, snippet.id)
    else:
        try:
            report = shared_report(lesson, pair, dataset.engine)
        except MeasurementPending as pending:
            if not is_htmx(request):
                raise
            # Another process is measuring it: show that, and ask again in a moment.
            context = {
                "lesson": lesson,
                "pair": pair,
                "dataset": dataset.size,
                "engine": dataset.engine,
                "pending": pending,
            }
            return render(request, "lessons/_scale.html", context)
    if is_htmx(request):
        context = {
            "lesson": lesson,
            "pair": pair,
            "scale": ScaleView(report),
            "dataset": dataset.size,
            "engine": dataset.engine,
            "lesson_progress": progress.for_lesson(lesson),
        }
        return render(request, "lessons/_scale_run.html", context)
    context = lesson_context(progress, lesson, dataset, scale=(pair, report))
    return render(request, "lessons/lesson.html", context)


@require_POST
def run_cancel(request: HttpRequest) -> HttpResponse:
    """End the asker's run in flight (the card's Cancel while it runs): 204, and the run's own
    request answers that it was cancelled."""
    engine.cancel(learner_id(request))
    return HttpResponse(status=204)


@require_GET
def run_queue(request: HttpRequest) -> HttpResponse:
    """Where the asker's run waits for a worker, in words for the card's running line (the page
    asks while a run takes long); 204 when it does not wait."""
    state = engine.queue_state(learner_id(request))
    if state is None:
        return HttpResponse(status=204)
    ahead = (
        "yours is next"
        if not state.ahead
        else f"{state.ahead} run{'s' if state.ahead != 1 else ''} ahead of yours"
    )
    workers = f"{state.workers} worker{'s' if state.workers != 1 else ''}"
    text = f"Queued for a free worker ({workers}, {ahead}): about {max(state.seconds, 1):.0f} s…"
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def explain_query(request: HttpRequest) -> HttpResponse:
    plan = explain(request.POST.get("token", ""))
    return page_or_partial(request, "lessons/plan.html", "lessons/_plan.html", {"plan": plan})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page links to."""
    return redirect(static("favicon.svg"), permanent=True)
