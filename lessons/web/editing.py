"""Who may edit code and run their own: COURSE_EDITING is "on", "off", or "local" (the default),
which allows it for requests from this machine only, as when `make run` serves 127.0.0.1. In a
room the instructor decides, on the console (COURSE_EDITING only sets where the room starts)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from lessons import engine
from lessons.errors import CourseError
from lessons.web.identity import current_room


class EditingOff(CourseError):
    status = 403


def editing_allowed(request: HttpRequest) -> bool:
    if _strangers_unwalled():
        return False
    if settings.COURSE_ROOM:  # the instructor's switch, on the console
        room = current_room(request)
        return bool(room and room.editing)
    mode = settings.COURSE_EDITING
    if mode == "local":
        return _is_loopback(request.META.get("REMOTE_ADDR", ""))
    return bool(mode == "on")


def require_editing(request: HttpRequest) -> None:
    """EditingOff (403) with the reason, unless this request may run its own code."""
    if editing_allowed(request):
        return
    if _strangers_unwalled():
        missing = " and ".join(engine.walls().missing)
        raise EditingOff(
            f"Learners' own code is refused on this server: the kernel cannot wall runs off from "
            f"the {missing} here (see the server's start-up lines and SECURITY.md). Whoever "
            "started it can accept the risk with COURSE_ACCEPT_RISK=yes "
            "(make workshop EDITING=on ACCEPT_RISK=yes)."
        )
    if settings.COURSE_ROOM:
        raise EditingOff(
            "Editing code is off in this room for now. The instructor can turn it on from the "
            "console."
        )
    if settings.COURSE_EDITING == "local":
        raise EditingOff(
            "Editing code is on only for browsers on the machine serving the course. Whoever "
            "started the server can turn it on for everyone with COURSE_EDITING=on "
            "(make workshop EDITING=on)."
        )
    raise EditingOff(
        "Editing code is turned off on this server. Whoever started it can turn it on with "
        "COURSE_EDITING=on (make workshop EDITING=on)."
    )


def _strangers_unwalled() -> bool:
    """Code typed by other people (a room, or editing on for everyone) needs walls on files and
    on the network, unless the instructor accepted the risk. On your own machine it is yours."""
    serving_others = settings.COURSE_ROOM or settings.COURSE_EDITING == "on"
    if not serving_others or settings.COURSE_ACCEPT_RISK:
        return False
    return not engine.walls().enough_for_strangers


def context(request: HttpRequest) -> dict[str, Any]:
    """Template context: whether to offer Edit buttons and the playground."""
    return {"editing": editing_allowed(request)}


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
