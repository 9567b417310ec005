"""Limits per client address: runs in flight (the run service counts them, this module names the
address) and new learner identities a minute. A learner identity costs one request, so the
run service's one-run-per-learner rule alone would let one machine hold every worker.

Loopback addresses are left out unless COURSE_LIMIT_LOOPBACK is on: on a learner's own machine
every request is local, and so is every learner's behind a proxy on the same machine."""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import math
import time
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from lessons import engine
from lessons.errors import CourseError
from lessons.web.errors import GetResponse

WINDOW_SECONDS = 60.0


class TooManyLearners(CourseError):
    status = 429

    def __init__(self, address: str, limit: int, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"{limit} new learners came from your address ({address}) in the last minute, the "
            f"most the course takes. Try again in {retry_after} seconds. A browser that keeps "
            "the course's cookie stays the same learner and needs no new one."
        )


def limited_address(request: HttpRequest) -> str | None:
    """The client's address when the per-address limits apply to it, else None."""
    address = request.META.get("REMOTE_ADDR", "")
    if not address:  # a Unix socket: no address to tell clients apart by
        return None
    if settings.COURSE_LIMIT_LOOPBACK:
        return address
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    mapped = getattr(ip, "ipv4_mapped", None)
    return None if ip.is_loopback or (mapped is not None and mapped.is_loopback) else address


class RunAddressMiddleware:
    """Every run a request starts counts against its client's address (lessons.engine),
    whichever path starts it."""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with engine.on_behalf_of(limited_address(request)):
            return self.get_response(request)


def count_new_learner(request: HttpRequest) -> None:
    """Note that a new learner is being made for this request's address; TooManyLearners (429)
    if the address made COURSE_NEW_LEARNERS_PER_MINUTE (0: no limit) in the last minute already.
    Every server process shares the count, a file under var/run/."""
    address = limited_address(request)
    limit = settings.COURSE_NEW_LEARNERS_PER_MINUTE
    if address is None or limit <= 0:  # 0 turns the limit off
        return
    root = Path(settings.COURSE_RUN_DIR)
    path = root / "new-learners" / hashlib.sha256(address.encode()).hexdigest()[:24]
    now = time.time()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # one process at a time reads and writes it
            handle.seek(0)
            recent = sorted(
                stamp for stamp in _stamps(handle.read()) if now - WINDOW_SECONDS < stamp <= now
            )
            if len(recent) >= limit:
                retry_after = max(1, math.ceil(recent[-limit] + WINDOW_SECONDS - now))
                raise TooManyLearners(address, limit, retry_after)
            handle.seek(0)
            handle.truncate()
            handle.write("".join(f"{stamp}\n" for stamp in [*recent, now]))
    except OSError as exc:
        raise engine.RunFolderUnwritable(root, exc) from exc


def _stamps(text: str) -> list[float]:
    stamps = []
    for line in text.split():
        try:
            stamps.append(float(line))
        except ValueError:  # a damaged line counts for nothing
            continue
    return stamps
