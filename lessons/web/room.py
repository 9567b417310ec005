"""Joining the open room and leaving it, the follow-me banner each learner's page asks for, and a
lesson page telling the server it was opened. Who the learner is: lessons.web.identity."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from lessons.catalog import get_catalog
from lessons.display.qr import qr_svg
from lessons.errors import CourseError
from lessons.learner import help
from lessons.learner.rooms import join, leave
from lessons.web.identity import (
    OPEN_PATHS,
    current_learner,
    current_room,
    joined_as,
    known_learner,
    progress_for,
)
from lessons.web.identity import context as room_context
from lessons.web.limits import count_new_learner
from lessons.web.lookups import get_lesson
from lessons.web.render import is_htmx


class NotInRoom(CourseError):
    status = 403


@require_http_methods(["GET", "POST"])
def join_page(request: HttpRequest) -> HttpResponse:
    """Join the open room under a name; come back, or change name, from the same browser."""
    room = current_room(request) if settings.COURSE_ROOM else None
    target = _next(request)
    if room is None:
        status = 404 if settings.COURSE_ROOM else 200
        return render(request, "room/join.html", {"room": None, "next": target}, status=status)
    learner = known_learner(request)
    mine = learner if learner is not None and learner.room_id == room.pk else None
    context = {"room": room, "learner": mine, "next": target, "name": mine.name if mine else ""}
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            if mine is None:  # joining makes a new learner
                count_new_learner(request)
            joined = join(room, name, mine)
        except CourseError as exc:  # a bad or taken name, too many joins: the form again, with why
            context.update(error=exc.message, name=name[:80])
            response = render(request, "room/join.html", context, status=exc.status)
            if retry_after := getattr(exc, "retry_after", None):
                response["Retry-After"] = str(retry_after)
            return response
        joined_as(request, joined)
        return redirect(target)
    return render(request, "room/join.html", context)


@require_GET
def join_screen(request: HttpRequest) -> HttpResponse:
    """The join screen for the projector: the address learners open, large and as a QR code, and
    how many have joined, counted again every few seconds. It carries no token: it shows nothing
    the room's address does not."""
    room = current_room(request)
    if room is None:
        status = 404 if settings.COURSE_ROOM else 200
        return render(request, "room/join.html", {"room": None, "next": ""}, status=status)
    joined = room.learners.filter(left_at=None).count()
    if request.headers.get("HX-Request") == "true":
        return render(request, "room/_joined.html", {"joined": joined})
    address = room.address or request.build_absolute_uri("/")
    context = {"room": room, "address": address, "qr": qr_svg(address), "joined": joined}
    return render(request, "room/screen.html", context)


@require_POST
def leave_room(request: HttpRequest) -> HttpResponse:
    learner = current_learner(request)
    if learner is not None:
        leave(learner)
    return redirect(reverse("lessons:join") + "?left=1")


@require_GET
def banner(request: HttpRequest) -> HttpResponse:
    """The follow-me banner, asked for every few seconds by each learner's page: 204 (htmx swaps
    nothing) while it would draw what the page already shows, as the version it sent says."""
    here = request.GET.get("here", "")
    context = {**room_context(request, here), "here": here}
    if request.GET.get("v") == context.get("banner_version"):
        return HttpResponse(status=204)
    return render(request, "room/_banner.html", context)


@require_POST
def ask_help(request: HttpRequest, slug: str) -> HttpResponse:
    """ "I'm stuck" on a card or an exercise: the learner's code goes to the instructor's queue.
    htmx gets the banner, which says where they stand; a plain post goes back to the card."""
    learner = current_learner(request)
    if learner is None or not settings.COURSE_ROOM:
        raise NotInRoom("Help requests go to a workshop's instructor: join a room first.")
    lesson = get_lesson(slug)
    place = request.POST.get("exercise") or request.POST.get("snippet") or ""
    exercise = next((e for e in lesson.exercises if e.id == place), None)
    snippet = lesson.snippets.get(place)
    if exercise is None and snippet is None:
        raise Http404(f"Lesson {slug!r} has no card or exercise {place[:60]!r}.")
    code = request.POST.get("code")
    if code is None:  # a card shown without its editor: the lesson's own code
        code = snippet.code if snippet else exercise.start if exercise else ""
    help.ask(learner, lesson.slug, place, code, request.POST.get("shareable") == "1")
    return _back_to(request, lesson.slug, place)


@require_POST
def cancel_help(request: HttpRequest) -> HttpResponse:
    learner = current_learner(request)
    if learner is not None:
        help.cancel(learner)
    return _back_to(request, "", "")


def _back_to(request: HttpRequest, slug: str, place: str) -> HttpResponse:
    if is_htmx(request):
        here = request.POST.get("here", "")
        return render(request, "room/_banner.html", {**room_context(request, here), "here": here})
    target = _next(request)
    return redirect(target)


@require_POST
def opened(request: HttpRequest, slug: str) -> HttpResponse:
    """A lesson page telling the server it was opened, for a visitor with no learner yet: a
    browser that runs the page's script, never a crawler or a one-off request."""
    lesson = get_catalog().by_slug.get(slug)
    if lesson is not None:
        progress_for(request).mark_opened(lesson)
    return HttpResponse(status=204)


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    if not safe or not target.startswith("/") or target.startswith(OPEN_PATHS):
        return reverse("lessons:outline")
    return target
