"""The instructor's console: the room live (learners by lesson, the clicker, where the room is
stuck), follow-me, the room's switches and its results. Beside it: `console_live` (what each live
part draws), `console_export` (the results as CSV) and `presenter` (the presenter view).

Every URL carries the room's secret token, printed by `make workshop`; a wrong one is a plain 404.
Learners never have it, so none of this (anyone's answers included) is theirs to see."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from lessons.catalog import get_catalog
from lessons.datasets import SPECS
from lessons.learner import help, rooms, votes
from lessons.learner.models import Room
from lessons.learner.predictions import reveal_key
from lessons.web.console_export import results_csv
from lessons.web.console_live import LIVE, clicker_lesson, live_part
from lessons.web.identity import mark_instructor
from lessons.web.lookups import get_console_room
from lessons.web.render import is_htmx


@require_GET
def console(request: HttpRequest, token: str) -> HttpResponse:
    room = get_console_room(token)
    mark_instructor(request, room)
    catalog = get_catalog()
    context = {
        "room": room,
        "catalog": catalog,
        "clicker_lesson": clicker_lesson(room, request),
        "following": catalog.by_slug.get(room.following),
        "learner_url": request.build_absolute_uri(reverse("lessons:join")),
        "live": {kind: live_part(kind, room, request) for kind in LIVE},
    }
    return render(request, "console/console.html", context)


def _refresh(kind: str) -> Any:
    @require_GET
    def view(request: HttpRequest, token: str) -> HttpResponse:
        """A live part asked for again: 204 (nothing to swap) when it has not changed, so the
        instructor's focus and scroll stay put."""
        live = live_part(kind, get_console_room(token), request, since=request.GET.get("v", ""))
        if live is None:
            return HttpResponse(status=204)
        return render(request, "console/_live.html", {"live": live})

    return view


learners = _refresh("learners")
clicker_view = _refresh("clicker")
stuck = _refresh("stuck")
predictions_view = _refresh("predictions")
help_view = _refresh("help")


@require_POST
def help_request(request: HttpRequest, token: str) -> HttpResponse:
    """Open a learner's help request (their banner says you are on the way), or mark it done."""
    room = get_console_room(token)
    pk = request.POST.get("request", "")
    notice = ""
    try:
        if request.POST.get("do") == "done":
            help.mark_done(room, pk)
        else:
            help.open_request(room, pk)
    except help.NoSuchRequest:
        if not (pk.isdigit() and is_htmx(request)):
            raise
        # Listed a moment ago, gone now: the learner cancelled it. The queue, drawn again, says so.
        notice = "That request is no longer in the queue: the learner cancelled it."
    if is_htmx(request):
        live = live_part("help", room, request)
        return render(request, "console/_live.html", {"live": live, "notice": notice})
    return _back(request, room, "help")


@require_POST
def send_code(request: HttpRequest, token: str) -> HttpResponse:
    """Offer code to every learner's playground: typed here, or a shareable help request's."""
    room = get_console_room(token)
    _open(room)
    if request.POST.get("request"):
        asked = help.request_of(room, request.POST["request"])
        if not asked.shareable:
            raise help.BadHelpRequest("This learner did not agree to show their code to the room.")
        code = asked.code
    else:
        code = request.POST.get("code", "")
    help.send_code(room, code)
    return _back(request, room, "send")


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
    room = get_console_room(token)
    _open(room)
    slug = request.POST.get("lesson", "")
    if slug and slug not in get_catalog().by_slug:
        raise Http404(f"No lesson called {slug[:60]!r}.")
    rooms.follow(room, slug if request.POST.get("follow") != "stop" else "")
    return _back(request, room, "teaching")


@require_POST
def reveal(request: HttpRequest, token: str) -> HttpResponse:
    room = get_console_room(token)
    question = request.POST.get("question", "")
    lesson = clicker_lesson(room, request)
    if question not in {q.id for q in lesson.quiz}:
        raise Http404(f"Lesson {lesson.slug!r} has no question {question[:60]!r}.")
    rooms.reveal(room, question, request.POST.get("shown") != "0")
    if is_htmx(request):
        room.refresh_from_db()
        return render(request, "console/_live.html", {"live": live_part("clicker", room, request)})
    return redirect(
        reverse("console:console", args=[room.token]) + f"?lesson={lesson.slug}#clicker"
    )


@require_POST
def reveal_count(request: HttpRequest, token: str) -> HttpResponse:
    """Show (or hide again) the measured count beside a histogram of the room's predictions."""
    room = get_console_room(token)
    lesson = clicker_lesson(room, request)
    snippet, dataset = request.POST.get("snippet", ""), request.POST.get("dataset", "")
    if snippet not in lesson.snippets or dataset not in SPECS:
        raise Http404(
            f"Lesson {lesson.slug!r} has no snippet {snippet[:60]!r} on {dataset[:20]!r}."
        )
    key = reveal_key(lesson.slug, snippet, dataset)
    rooms.reveal(room, key, request.POST.get("shown") != "0")
    if is_htmx(request):
        room.refresh_from_db()
        live = live_part("predictions", room, request)
        return render(request, "console/_live.html", {"live": live})
    return redirect(
        reverse("console:console", args=[room.token]) + f"?lesson={lesson.slug}#predictions"
    )


@require_POST
def vote(request: HttpRequest, token: str) -> HttpResponse:
    """Open a question's vote (the first, or a second after the discussion), or close it."""
    room = get_console_room(token)
    _open(room)
    question = request.POST.get("question", "")
    lesson = clicker_lesson(room, request)
    if question not in {q.id for q in lesson.quiz}:
        raise Http404(f"Lesson {lesson.slug!r} has no question {question[:60]!r}.")
    if request.POST.get("do") == "close":
        votes.close_round(room, lesson.slug, question)
    else:
        votes.open_round(room, lesson.slug, question)
    if is_htmx(request):
        return render(request, "console/_live.html", {"live": live_part("clicker", room, request)})
    return redirect(
        reverse("console:console", args=[room.token]) + f"?lesson={lesson.slug}#clicker-{question}"
    )


@require_POST
def editing(request: HttpRequest, token: str) -> HttpResponse:
    room = get_console_room(token)
    _open(room)
    rooms.set_editing(room, request.POST.get("on") == "1")
    return _back(request, room, "controls")


@require_POST
def reset(request: HttpRequest, token: str) -> HttpResponse:
    room = get_console_room(token)
    _open(room)
    rooms.reset(room)
    return _back(request, room, "controls")


@require_POST
def end(request: HttpRequest, token: str) -> HttpResponse:
    room = get_console_room(token)
    rooms.end(room)
    return _back(request, room, "controls")


@require_GET
def export(request: HttpRequest, token: str) -> HttpResponse:
    """The room's results: one row per learner and lesson."""
    return results_csv(get_console_room(token))
