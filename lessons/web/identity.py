"""Who is asking: the learner (and the room they are in), or the instructor.

The session keeps only ids: the learner row's, and the room whose console this browser opened.
On a learner's own machine (`make run`) there is no joining: a learner row is made at their first
action (a run, an answer, the page telling the server it was opened) and the session keeps its
id. Served for a room (COURSE_ROOM=1, as `make workshop` does) every page wants a learner who
joined the open room by name, or the instructor (who came in through the console's token).
Nobody gets a session before doing something: a visitor who only reads stores nothing."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from lessons.catalog import get_catalog
from lessons.errors import CourseError
from lessons.learner import help
from lessons.learner.models import Learner, Room
from lessons.learner.prepared import Prepared
from lessons.learner.progress import Progress
from lessons.learner.rooms import active_room
from lessons.web.errors import GetResponse, answer, wants_json
from lessons.web.limits import count_new_learner
from lessons.web.render import is_htmx

# What the session keeps: the id of the learner row, and of the room the instructor opened.
LEARNER_SESSION_KEY = "learner"
INSTRUCTOR_SESSION_KEY = "instructor"
# Reachable without joining: joining itself, the banner, the console (its token guards it).
OPEN_PATHS = ("/join/", "/room/", "/console/", "/static/", "/favicon.ico")
_UNSET = object()
# With whether they wait for help: their banner asks every few seconds, and mostly nobody does.
_LEARNER = Prepared(
    Learner, lambda pk: Learner.objects.filter(pk=pk).annotate(asks_help=help.ASKS)[:1], 1
)


def learner_id(request: HttpRequest) -> str:
    """Who is asking, for the run service's one-run-per-learner rule: the learner once there is
    one, the client's address before that."""
    pk = request.session.get(LEARNER_SESSION_KEY)
    return f"learner:{pk}" if pk is not None else f"address:{request.META.get('REMOTE_ADDR', '')}"


def current_room(request: HttpRequest) -> Room | None:
    """The open room when serving one (once per request), else None."""
    if not settings.COURSE_ROOM:
        return None
    cached = getattr(request, "course_room", _UNSET)
    if cached is _UNSET:
        cached = active_room()
        request.course_room = cached  # type: ignore[attr-defined]
    return cached  # type: ignore[return-value]


def known_learner(request: HttpRequest) -> Learner | None:
    """The learner this browser was, whether or not they belong here now."""
    cached = getattr(request, "course_known_learner", _UNSET)
    if cached is _UNSET:
        # No session on a request refused before the session middleware (a body too large).
        session = getattr(request, "session", None)
        pk = session.get(LEARNER_SESSION_KEY) if session is not None else None
        cached = _LEARNER.first(pk) if type(pk) is int else None
        request.course_known_learner = cached  # type: ignore[attr-defined]
    return cached  # type: ignore[return-value]


def current_learner(request: HttpRequest) -> Learner | None:
    """The learner whose progress this request reads and writes: in the open room and not
    gone when serving a room; one without a room on a learner's own machine."""
    learner = known_learner(request)
    if learner is None:
        return None
    if settings.COURSE_ROOM:
        room = current_room(request)
        here = room is not None and learner.room_id == room.pk and learner.left_at is None
        return learner if here else None
    return learner if learner.room_id is None else None


def joined_as(request: HttpRequest, learner: Learner) -> None:
    """This browser is now `learner`, who joined the room. Every join gets a new session key (a
    new learner, one coming back, a new name): a key someone knew before the join does not carry
    the learner. The data, and with it the learner's id (what their progress hangs on), moves to
    the new key."""
    request.session.cycle_key()
    request.session[LEARNER_SESSION_KEY] = learner.pk


def is_instructor(request: HttpRequest) -> bool:
    room = current_room(request)
    return room is not None and request.session.get(INSTRUCTOR_SESSION_KEY) == room.pk


class NotInstructor(CourseError):
    status = 403


def mark_instructor(request: HttpRequest, room: Room) -> None:
    """The token was right: this browser's session is the instructor's. It lets the instructor
    use the learners' pages (a run from the presenter view) without joining, and opens the
    presenter view. Becoming the instructor gets a new session key, as joining does."""
    if request.session.get(INSTRUCTOR_SESSION_KEY) != room.pk:
        request.session.cycle_key()
        request.session[INSTRUCTOR_SESSION_KEY] = room.pk


def instructors_room(request: HttpRequest) -> Room:
    """The room whose console this browser opened (the token's room), for the tokenless views."""
    pk = request.session.get(INSTRUCTOR_SESSION_KEY)
    room = Room.objects.filter(pk=pk).first() if isinstance(pk, int) else None
    if room is None:
        raise NotInstructor(
            "The presenter view is the instructor's: open the console (the address "
            "`make workshop` printed) in this browser first, then present from there."
        )
    return room


def progress_for(request: HttpRequest) -> Progress:
    """The learner's progress (the same object all through one request). On a learner's own
    machine the first thing recorded makes the learner; in a room, joining does."""
    cached: Progress | None = getattr(request, "course_progress", None)
    if cached is None:

        def enrol() -> Learner:
            count_new_learner(request)
            learner = Learner.objects.create()
            request.session[LEARNER_SESSION_KEY] = learner.pk
            request.course_known_learner = learner  # type: ignore[attr-defined]
            return learner

        cached = Progress(current_learner(request), None if settings.COURSE_ROOM else enrol)
        request.course_progress = cached  # type: ignore[attr-defined]
    return cached


class RoomMiddleware:
    """When serving a room, everything but joining asks for a learner who joined (or the
    instructor): pages send them to the join page, forms and the API get 403 with the way in."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.COURSE_ROOM
            and not request.path.startswith(OPEN_PATHS)
            and current_room(request) is not None
            and current_learner(request) is None
            and not is_instructor(request)
        ):
            if request.method in ("GET", "HEAD") and not (wants_json(request) or is_htmx(request)):
                return redirect(f"{reverse('lessons:join')}?next={quote(request.get_full_path())}")
            message = "Join the room first: open /join/ and pick a name."
            return answer(request, 403, "JoinFirst", message)
        return self.get_response(request)


def context(request: HttpRequest, here: str | None = None) -> dict[str, Any]:
    """Template context: the room, the learner in it and the lesson the instructor is on, with
    the version of the banner they draw on page `here` (the request's own by default): a poll
    that sends it back is told nothing changed."""
    if not settings.COURSE_ROOM:
        return {"room_mode": False}
    room = current_room(request)
    following = get_catalog().by_slug.get(room.following) if room else None
    learner = current_learner(request)
    standing = help.standing(learner) if learner else None
    # The code the instructor sent, offered while editing is on (the playground needs it).
    sent = room.sent_at if room and room.editing and room.sent_code else None
    drawn = (
        following.slug if following else "",
        learner and (learner.pk, learner.name),
        standing,
        sent,
    )
    place = request.path if here is None else here
    return {
        "room_mode": True,
        "room": room,
        "room_learner": learner,
        "following": following,
        "help_standing": standing,
        "sent_code_at": sent,
        "banner_version": hashlib.sha256(repr((*drawn, place)).encode()).hexdigest()[:16],
    }
