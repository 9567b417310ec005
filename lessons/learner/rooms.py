"""Workshops: the open room, learners joining it by name, and the instructor's switches."""

from __future__ import annotations

import copy
import random
import secrets
import time
import unicodedata

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from lessons.errors import CourseError, shorten
from lessons.learner import help
from lessons.learner.models import Learner, Room
from lessons.learner.names import name_key
from lessons.learner.prepared import Prepared
from lessons.learner.progress import forget

NAME_LIMIT = 40


class BadName(CourseError):
    status = 400


class NameTaken(CourseError):
    status = 409


class RoomClosed(CourseError):
    status = 403


_ACTIVE = Prepared(
    Room, lambda: Room.objects.filter(ended_at=None).order_by("-started_at", "-pk")[:1], 0
)


# The open room as this process last read it, and when (time.monotonic()).
_kept: tuple[float, Room] | None = None


def active_room() -> Room | None:
    """The room being taught: the newest one not ended. Every request asks, so a process reads
    it at most once per COURSE_ROOM_FRESH_SECONDS (each caller gets a copy of its own). That no
    room is open is never kept: a room opened elsewhere is seen at once."""
    global _kept
    fresh = settings.COURSE_ROOM_FRESH_SECONDS
    kept = _kept
    if kept is not None and time.monotonic() - kept[0] < fresh:
        return copy.copy(kept[1])
    room = _ACTIVE.first()
    _kept = (time.monotonic(), room) if room is not None and fresh > 0 else None
    return copy.copy(room) if room is not None else None


def forget_room() -> None:
    """This process changed the open room (or ended it): read it again at the next ask, and
    again once the change is committed (a read in between may find the row as it was)."""
    global _kept
    _kept = None
    transaction.on_commit(_forget_kept)


def _forget_kept() -> None:
    global _kept
    _kept = None


def open_room(*, editing: bool) -> tuple[Room, bool]:
    """The open room, or a new one (with editing as given); and whether it is new. Restarting the
    server keeps the room, its token and everyone's progress."""
    with transaction.atomic():
        _one_opener_at_a_time()
        room = active_room()
        if room:
            return room, False
        opened = Room.objects.create(token=secrets.token_urlsafe(24), editing=editing)
    help.forget_queues()  # a new room's number may be a deleted one's
    forget_room()
    return opened, True


# Any fixed number: the key of the advisory lock that opening a room takes on PostgreSQL.
_OPENING_LOCK = 0x726F6F6D


def _one_opener_at_a_time() -> None:
    """Several app servers started at once must not open a room each. SQLite's write transactions
    already run one at a time; PostgreSQL's do not, so take a lock held until this one ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_OPENING_LOCK])


def clean_name(raw: str) -> str:
    """A display name: spaces collapsed, 1 to NAME_LIMIT printable characters."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise BadName("Pick a name to show the instructor (it only needs to be unique here).")
    if len(name) > NAME_LIMIT:
        raise BadName(f"Names are at most {NAME_LIMIT} characters; {shorten(name)} is longer.")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise BadName("Names are letters, digits, spaces and punctuation only.")
    return name


def join(room: Room, raw_name: str, learner: Learner | None = None) -> Learner:
    """A learner joins the room under a name, or (given their learner) comes back or renames.
    NameTaken (409) when someone else in the room has it, whatever the letter case, or one
    that looks the same ("Anna" with a Cyrillic A for "Anna"; lessons.learner.names)."""
    if room.ended_at:
        raise RoomClosed("This workshop has ended.")
    name = clean_name(raw_name)
    key = name_key(name)
    try:
        with transaction.atomic():
            if learner is not None and learner.room_id == room.pk:
                Learner.objects.filter(pk=learner.pk).update(
                    name=name, name_key=key, left_at=None, last_seen=timezone.now()
                )
                learner.name, learner.name_key, learner.left_at = name, key, None
                return learner
            return Learner.objects.create(
                room=room, name=name, name_key=key, seed=random.SystemRandom().randrange(2**31)
            )
    except IntegrityError:
        raise NameTaken(f"Someone in this room is already called {shorten(name)}.") from None


def leave(learner: Learner) -> None:
    """Leaving keeps the learner's progress; the same browser can come back as them."""
    Learner.objects.filter(pk=learner.pk).update(left_at=timezone.now())


def follow(room: Room, lesson_slug: str) -> None:
    """Learners' banners point at this lesson ("" to stop)."""
    Room.objects.filter(pk=room.pk).update(following=lesson_slug)
    forget_room()


def set_editing(room: Room, on: bool) -> None:
    Room.objects.filter(pk=room.pk).update(editing=on)
    forget_room()


def reveal(room: Room, question_id: str, shown: bool) -> None:
    """Show (or hide again) a question's right answer on the clicker view."""
    with transaction.atomic():
        revealed = set(Room.objects.get(pk=room.pk).revealed)
        revealed = revealed | {question_id} if shown else revealed - {question_id}
        Room.objects.filter(pk=room.pk).update(revealed=sorted(revealed))
        forget_room()


def reset(room: Room) -> None:
    """Forget the room's progress and answers; learners stay joined."""
    with transaction.atomic():
        forget(Learner.objects.filter(room=room))
        Room.objects.filter(pk=room.pk).update(
            following="", revealed=[], polls={}, sent_code="", sent_at=None
        )
        forget_room()


def end(room: Room) -> None:
    """Close the room: nobody joins it any more, its results stay for export."""
    Room.objects.filter(pk=room.pk, ended_at=None).update(ended_at=timezone.now())
    forget_room()
