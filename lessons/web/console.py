"""The instructor's console: the room live (learners by lesson, the clicker, where the room is
stuck), follow-me, the presenter view and the room's switches.

Every URL carries the room's secret token, printed by `make workshop`; a wrong one is a plain 404.
Learners never have it, so none of this (anyone's answers included) is theirs to see. The one
exception is the presenter view, which a projector shows address bar and all: its address has no
token, and it answers only the browser whose session opened the console."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_POST

from lessons import datasets
from lessons.catalog import Catalog, Lesson, get_catalog
from lessons.learner import rooms
from lessons.learner.console import (
    LearnerRow,
    clicker,
    export_rows,
    learner_rows,
    stuck_exercises,
    stuck_questions,
)
from lessons.learner.models import Room
from lessons.web.identity import NotInstructor, instructors_room, mark_instructor
from lessons.web.render import is_htmx
from lessons.web.viewmodels import Card


def room_of(token: str) -> Room:
    room = Room.objects.filter(token=token).first() if token else None
    if room is None:
        raise Http404("No such console.")
    return room


def _lesson(room: Room, request: HttpRequest) -> Lesson:
    """The lesson the clicker shows: asked for, else the one being taught, else the first."""
    by_slug = get_catalog().by_slug
    wanted = request.GET.get("lesson") or request.POST.get("lesson") or room.following
    return by_slug.get(wanted) or get_catalog().lessons[0]


# Each live part of the console: its body template, what it needs, and how often it is asked for.
LIVE = {
    "clicker": ("console/_clicker.html", 2),
    "learners": ("console/_learners.html", 3),
    "stuck": ("console/_stuck.html", 5),
}


@dataclass(frozen=True)
class Cell:
    """One learner in one lesson, as the matrix draws it (built here: a template looking each
    figure up for 50 learners by 24 lessons takes most of a refresh)."""

    lesson: str
    css: str
    text: str
    solved: int
    title: str


def _cells(row: LearnerRow, catalog: Catalog) -> list[Cell]:
    cells = []
    for lesson in catalog.lessons:
        p = row.lessons[lesson.slug]
        css = "cell is-ran" if p.pairs_run else "cell is-opened" if p.opened else "cell"
        text = f"{p.correct}/{p.answered}" if p.answered else "·" if p.opened else ""
        title = (
            f"{lesson.title}: {'opened' if p.opened else 'not opened'}, ran {p.pairs_run}/"
            f"{p.pairs}, quiz {p.correct}/{p.answered} of {p.questions}, solved "
            f"{p.exercises_solved}/{p.exercises}"
        )
        cells.append(Cell(lesson.slug, css, text, p.exercises_solved, title))
    return cells


def _live_context(kind: str, room: Room, request: HttpRequest) -> tuple[dict[str, Any], object]:
    """What a live part draws, and a fingerprint of it: equal fingerprints, equal drawings (so an
    unchanged part is known without drawing it)."""
    catalog = get_catalog()
    fingerprint: object
    if kind == "clicker":
        lesson = _lesson(room, request)
        questions = clicker(room, lesson)
        fingerprint = [(q.question.id, q.revealed, [c.count for c in q.choices]) for q in questions]
        return {"clicker_lesson": lesson, "questions": questions}, (lesson.slug, fingerprint)
    if kind == "learners":
        rows = learner_rows(room, catalog)
        following = catalog.by_slug.get(room.following)
        matrix = [(row, _cells(row, catalog)) for row in rows]
        context = {
            "rows": rows,
            "matrix": matrix,
            "active": sum(1 for row in rows if not row.idle and not row.left),
            "catalog": catalog,
            "following": following,
        }
        fingerprint = [
            (
                row.learner.pk,
                row.learner.name,
                row.learner.lesson,
                row.left,
                row.idle_minutes,
                *(cell.title for cell in cells),
            )
            for row, cells in matrix
        ]
        return context, (room.following, fingerprint)
    exercises, wrong = stuck_exercises(room, catalog), stuck_questions(room, catalog)
    fingerprint = (
        [(s.exercise.id, s.failed, s.failing, s.solved, s.common_failure) for s in exercises],
        [(s.question.id, s.wrong, s.wrong_now, s.common_wrong) for s in wrong],
    )
    return {"stuck_exercises": exercises, "stuck_questions": wrong}, fingerprint


def _live(kind: str, room: Room, request: HttpRequest, since: str = "") -> dict[str, Any] | None:
    """One live part, drawn, with the version its next refresh sends back; None when it is
    still the version `since`."""
    template, every = LIVE[kind]
    context, fingerprint = _live_context(kind, room, request)
    version = hashlib.sha256(repr(fingerprint).encode()).hexdigest()[:16]
    if since == version:
        return None
    body = render_to_string(template, {"room": room, **context}, request)
    url = reverse(f"console:{kind}", args=[room.token])
    if kind == "clicker":
        url += f"?lesson={context['clicker_lesson'].slug}"
    return {"kind": kind, "body": mark_safe(body), "every": every, "version": version, "url": url}


@require_GET
def console(request: HttpRequest, token: str) -> HttpResponse:
    room = room_of(token)
    mark_instructor(request, room)
    catalog = get_catalog()
    context = {
        "room": room,
        "catalog": catalog,
        "clicker_lesson": _lesson(room, request),
        "following": catalog.by_slug.get(room.following),
        "learner_url": request.build_absolute_uri(reverse("lessons:join")),
        "live": {kind: _live(kind, room, request) for kind in LIVE},
    }
    return render(request, "console/console.html", context)


def _refresh(kind: str) -> Any:
    @require_GET
    def view(request: HttpRequest, token: str) -> HttpResponse:
        """A live part asked for again: 204 (nothing to swap) when it has not changed, so the
        instructor's focus and scroll stay put."""
        live = _live(kind, room_of(token), request, since=request.GET.get("v", ""))
        if live is None:
            return HttpResponse(status=204)
        return render(request, "console/_live.html", {"live": live})

    return view


learners = _refresh("learners")
clicker_view = _refresh("clicker")
stuck = _refresh("stuck")


def _back(request: HttpRequest, room: Room, anchor: str) -> HttpResponse:
    """After a switch, back to the console where it was (the lesson it showed, the section)."""
    url = reverse("console:console", args=[room.token])
    lesson = request.POST.get("lesson")
    if lesson in get_catalog().by_slug:
        url += f"?lesson={lesson}"
    return redirect(f"{url}#{anchor}")


def _open(room: Room) -> None:
    if room.ended_at:
        raise rooms.RoomClosed("This room has ended: its results can still be exported.")


@require_POST
def follow(request: HttpRequest, token: str) -> HttpResponse:
    room = room_of(token)
    _open(room)
    slug = request.POST.get("lesson", "")
    if slug and slug not in get_catalog().by_slug:
        raise Http404(f"No lesson called {slug[:60]!r}.")
    rooms.follow(room, slug if request.POST.get("follow") != "stop" else "")
    return _back(request, room, "teaching")


@require_POST
def reveal(request: HttpRequest, token: str) -> HttpResponse:
    room = room_of(token)
    question = request.POST.get("question", "")
    lesson = _lesson(room, request)
    if question not in {q.id for q in lesson.quiz}:
        raise Http404(f"Lesson {lesson.slug!r} has no question {question[:60]!r}.")
    rooms.reveal(room, question, request.POST.get("shown") != "0")
    if is_htmx(request):
        room.refresh_from_db()
        return render(request, "console/_live.html", {"live": _live("clicker", room, request)})
    return redirect(
        reverse("console:console", args=[room.token]) + f"?lesson={lesson.slug}#clicker"
    )


@require_POST
def editing(request: HttpRequest, token: str) -> HttpResponse:
    room = room_of(token)
    _open(room)
    rooms.set_editing(room, request.POST.get("on") == "1")
    return _back(request, room, "controls")


@require_POST
def reset(request: HttpRequest, token: str) -> HttpResponse:
    room = room_of(token)
    _open(room)
    rooms.reset(room)
    return _back(request, room, "controls")


@require_POST
def end(request: HttpRequest, token: str) -> HttpResponse:
    room = room_of(token)
    rooms.end(room)
    return _back(request, room, "controls")


# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


@require_GET
def export(request: HttpRequest, token: str) -> HttpResponse:
    """The room's results: one row per learner and lesson."""
    room = room_of(token)
    catalog = get_catalog()
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    csv.writer(response).writerows([_cell(v) for v in row] for row in export_rows(room, catalog))
    stamp = room.started_at.strftime("%Y-%m-%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="room-{stamp}.csv"'
    return response


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
    room = room_of(token)
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
    return render(
        request,
        "console/present.html",
        {
            "room": room,
            "lesson": lesson,
            "pair": pair,
            "cards": cards,
            "number": number,
            "count": len(lesson.pairs),
            "previous": _step(lesson, number - 1),
            "next": _step(lesson, number + 1),
            "dataset": dataset.size,
            "datasets": list(datasets.SPECS.values()),
        },
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
