"""The presenter view: one pair at projector size, run live, stepped through the course.

A projector shows address bar and all, so the presenter's address has no token: it answers only
the browser whose session opened the console (lessons.web.identity.mark_instructor)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from lessons import datasets
from lessons.catalog import Lesson, Pair, Prose, get_catalog
from lessons.display.prose import render_markdown
from lessons.web.identity import NotInstructor, instructors_room, mark_instructor
from lessons.web.lookups import get_console_room
from lessons.web.viewmodels import Card


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Back to the console from the presenter view (whose page must not carry the token)."""
    try:
        room = instructors_room(request)
    except NotInstructor:
        raise Http404("No such console.") from None
    url = reverse("console:console", args=[room.token])
    lesson = request.GET.get("lesson", "")
    return redirect(f"{url}?lesson={lesson}" if lesson in get_catalog().by_slug else url)


@require_GET
def present_with_token(request: HttpRequest, token: str, slug: str, number: int) -> HttpResponse:
    room = get_console_room(token)
    mark_instructor(request, room)
    url = reverse("console:present", args=[slug, number])
    query = request.GET.urlencode()
    return redirect(f"{url}?{query}" if query else url)


@require_GET
def present(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    """One pair at projector size, run live, stepped with the keyboard (→ ← or PageDown/PageUp,
    as presentation clickers send)."""
    room = instructors_room(request)
    catalog = get_catalog()
    lesson = catalog.by_slug.get(slug)
    if lesson is None or not 1 <= number <= len(lesson.pairs):
        raise Http404("No such pair to present.")
    dataset = datasets.DatasetRef.from_request(request, engine=False)
    stats, _ = dataset.stats_or_problem()  # unseeded: the cards promise no count
    pair = lesson.pairs[number - 1]
    cards = [Card.on(snippet, stats) for snippet in pair.snippets]
    before, after = _prose_around(lesson, pair)
    return render(
        request,
        "console/present.html",
        {
            "room": room,
            "lesson": lesson,
            "pair": pair,
            "cards": cards,
            "before": render_markdown(before) if before else "",
            "after": render_markdown(after) if after else "",
            "number": number,
            "count": len(lesson.pairs),
            "previous": _step(lesson, number - 1),
            "next": _step(lesson, number + 1),
            "dataset": dataset.size,
            "datasets": list(datasets.SPECS.values()),
        },
    )


def _prose_around(lesson: Lesson, pair: Pair) -> tuple[str, str]:
    """The lesson's prose that sets the pair up and the prose that explains it ("What just
    happened"): the blocks right before and right after it, "" where another pair stands."""
    blocks = lesson.blocks
    at = blocks.index(pair)
    before = blocks[at - 1] if at > 0 else None
    after = blocks[at + 1] if at + 1 < len(blocks) else None
    return (
        before.source if isinstance(before, Prose) else "",
        after.source if isinstance(after, Prose) else "",
    )


def _step(lesson: Lesson, number: int) -> tuple[str, int] | None:
    """The pair before or after, crossing into the neighbouring lesson at either end."""
    if 1 <= number <= len(lesson.pairs):
        return lesson.slug, number
    before, after = get_catalog().neighbours(lesson)
    if number < 1 and before and before.pairs:
        return before.slug, len(before.pairs)
    if number > len(lesson.pairs) and after and after.pairs:
        return after.slug, 1
    return None
