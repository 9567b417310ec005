"""The help queue: a learner's "I'm stuck" on a card or an exercise, with the code they had and
the last result, queued for the instructor, who opens it and marks it done. One open request per
learner: asking again updates it and keeps its place. Also the code the instructor sends to the
whole room's playground."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from lessons.errors import CourseError
from lessons.learner.models import Check, HelpRequest, Learner, Ran, Room
from lessons.learner.writes import write

CODE_LIMIT = 20_000  # characters of code a request carries (a snippet is a few hundred)


class BadHelpRequest(CourseError):
    status = 400


def ask(learner: Learner, lesson: str, place: str, code: str, shareable: bool) -> None:
    """Queue the learner's request, or update the one they have open (same place in the queue)."""
    if len(code) > CODE_LIMIT:
        raise BadHelpRequest(f"The code is longer than {CODE_LIMIT:,} characters.")
    result = _last_result(learner, lesson, place)

    def asked() -> None:
        mine = HelpRequest.objects.filter(learner=learner, done_at=None)
        change = {"lesson": lesson, "place": place, "code": code, "result": result}
        if not mine.update(**change, shareable=shareable):
            HelpRequest.objects.create(learner=learner, shareable=shareable, **change)

    write(asked)
    _changed(learner.room_id)
    learner.asks_help = True  # type: ignore[attr-defined]  # as read with the learner: now it does


def _last_result(learner: Learner, lesson: str, place: str) -> str:
    """What the server knows of the learner's last result there: an exercise's latest check,
    or whether they ran the card."""
    check = Check.objects.filter(learner=learner, exercise=place).order_by("-at", "-pk").first()
    if check is not None:
        return "passed its last check" if check.passed else f"last check: {check.failure}"[:300]
    if Ran.objects.filter(learner=learner, lesson=lesson, snippet=place).exists():
        return "ran the lesson's code"
    return "not run yet"


def cancel(learner: Learner) -> None:
    def cancelled() -> None:
        HelpRequest.objects.filter(learner=learner, done_at=None).delete()

    write(cancelled)
    _changed(learner.room_id)
    learner.asks_help = False  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Standing:
    """Where the learner's open request stands, for their banner."""

    position: int  # 1: next
    opened: bool

    @property
    def words(self) -> str:
        if self.opened:
            return "The instructor is on the way."
        if self.position == 1:
            return "You are next in the help queue."
        return f"You are {_ordinal(self.position)} in the help queue."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# How long a server process goes on with the room's queue as it last read it: every waiting
# learner's banner asks where they stand every few seconds, and one read a second answers them
# all. What this process changes in the queue it forgets at once.
QUEUE_SECONDS = 1.0
_queues: dict[int, tuple[float, list[tuple[int, datetime, bool]]]] = {}
_queues_lock = threading.Lock()


def _open_requests(room_id: int) -> list[tuple[int, datetime, bool]]:
    """(learner, asked at, opened) for each open request of the room, as read lately."""
    with _queues_lock:
        kept = _queues.get(room_id)
    if kept is not None and time.monotonic() - kept[0] < QUEUE_SECONDS:
        return kept[1]
    found = HelpRequest.objects.filter(learner__room=room_id, done_at=None)
    rows = [
        (learner, asked, opened is not None)
        for learner, asked, opened in found.values_list("learner_id", "asked_at", "opened_at")
    ]
    with _queues_lock:
        _queues[room_id] = (time.monotonic(), rows)
    return rows


def _changed(room_id: int | None) -> None:
    with _queues_lock:
        _queues.pop(room_id or 0, None)


def forget_queues() -> None:
    """Requests were deleted (progress forgotten): read every room's queue again."""
    with _queues_lock:
        _queues.clear()


# Whether a learner has an open request, to read with the learner (`asks_help`): standing() then
# asks no more of a learner who has none.
ASKS = Exists(HelpRequest.objects.filter(learner=OuterRef("pk"), done_at=None))


def standing(learner: Learner) -> Standing | None:
    """Where the learner's open request stands (every page of theirs asks), None without one."""
    if not getattr(learner, "asks_help", True):  # read with the learner (0 on SQLite)
        return None
    rows = _open_requests(learner.room_id or 0)
    mine = next((row for row in rows if row[0] == learner.pk), None)
    if mine is None:
        return None
    ahead = sum(1 for _, asked, opened in rows if not opened and asked < mine[1])
    return Standing(ahead + 1, mine[2])


def queue(room: Room) -> list[HelpRequest]:
    """The room's open requests, oldest first (the opened ones among them)."""
    found = HelpRequest.objects.filter(learner__room=room, done_at=None).select_related("learner")
    return list(found.order_by("asked_at", "pk"))


class NoSuchRequest(CourseError):
    status = 404


def request_of(room: Room, pk: str) -> HelpRequest:
    found = HelpRequest.objects.filter(learner__room=room, pk=pk).first() if pk.isdigit() else None
    if found is None:
        raise NoSuchRequest("There is no such help request in this room.")
    return found


def open_request(room: Room, pk: str) -> None:
    found = request_of(room, pk)
    HelpRequest.objects.filter(pk=found.pk, opened_at=None).update(opened_at=timezone.now())
    _changed(room.pk)


def mark_done(room: Room, pk: str) -> None:
    found = request_of(room, pk)
    HelpRequest.objects.filter(pk=found.pk, done_at=None).update(done_at=timezone.now())
    _changed(room.pk)


def send_code(room: Room, code: str) -> None:
    """Offer this code to every learner's playground (replacing what was sent before)."""
    code = code.strip("\n")
    if not code.strip():
        raise BadHelpRequest("There is no code to send: write some first.")
    if len(code) > CODE_LIMIT:
        raise BadHelpRequest(f"The code is longer than {CODE_LIMIT:,} characters.")
    from lessons.learner.rooms import forget_room  # rooms imports this module

    with transaction.atomic():
        Room.objects.filter(pk=room.pk).update(sent_code=code, sent_at=timezone.now())
        forget_room()


def help_rows(room: Room) -> list[tuple[object, ...]]:
    """Every help request of the room, for its CSV."""
    rows: list[tuple[object, ...]] = [
        ("learner", "lesson", "place", "asked", "opened", "done", "shareable", "result")
    ]
    found = HelpRequest.objects.filter(learner__room=room).select_related("learner")
    for h in found.order_by("asked_at", "pk"):
        rows.append(
            (
                h.learner.name,
                h.lesson,
                h.place,
                h.asked_at.isoformat(timespec="seconds"),
                h.opened_at.isoformat(timespec="seconds") if h.opened_at else "",
                h.done_at.isoformat(timespec="seconds") if h.done_at else "",
                "yes" if h.shareable else "no",
                h.result,
            )
        )
    return rows
