"""Reading a run's messages off its channel in the web process, which believes none of them.

A run is a learner's code, and once it has switched the audit hook off it can write anything to
its channel. The server reads what arrives as data, and bounds it before it costs anything:

- once a reply has started, all of it must arrive within REPLY_SECONDS, and at most
  MAX_REPLY_BYTES are read: a longer reply is never read at all;
- nesting deeper than MAX_DEPTH, or more than MAX_VALUES values, is refused before json.loads
  sees the text (its decoder recurses once per level, and every value costs memory);
- a message is a JSON object with a text "kind"; the results of an "ok" message are then checked
  field by field, and their sizes capped, by lessons.engine.contract.decode_results.

How much of what is kept a page formats is bounded in lessons.display.report.
"""

from __future__ import annotations

import json
import os
import re
import select
import struct
import time
from multiprocessing.connection import Connection
from typing import Any

from lessons.engine.contract import MAX_ERROR_CHARS, Malformed, cut

MB = 1024 * 1024
# An honest reply is far smaller: 20,000 statements of a few hundred characters are about 7 MB.
MAX_REPLY_BYTES = 16 * MB
# 4 tasks (an exercise check) of 20,000 statements are about 650,000. Each value costs the server
# up to 80 bytes once parsed, so this bounds what the largest reply weighs in memory.
MAX_VALUES = 1_000_000
# message > results > result > queries > statement > parameters > a row of executemany > an
# array parameter: 8 levels. Deeper is not a reply the run's encoder makes.
MAX_DEPTH = 12
REPLY_SECONDS = 2.0  # a started reply arrives in full by then: 16 MB through a pipe takes ms

TOO_LARGE = (
    f"its reply was larger than the {MAX_REPLY_BYTES // MB} MB the course reads back from a "
    "run. Run fewer statements, or print less."
)
TOO_MANY_VALUES = (
    f"its reply held more than the {MAX_VALUES:,} values the course reads back from a run. Run "
    "fewer statements, or with fewer parameters."
)
TOO_LATE = "its reply did not arrive in full within {seconds:g} seconds."
MALFORMED: dict[str, Any] = {"kind": "malformed"}


class TooLarge(Exception):
    """The reply is larger than the server reads: its message says so, for the learner."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _Late(Exception):
    """A reply started and did not end in time."""


def receive(receiver: Connection, seconds: float = REPLY_SECONDS) -> dict[str, Any] | None:
    """The run's next message, as a dict with a str "kind"; None when it sent nothing (it died, or
    closed its channel). A reply that cannot be read is said as a message the service knows:
    "malformed", or a "crash" saying why it was not read. Never raises on what the run sent."""
    try:
        raw = _read_message(receiver, seconds)
    except TooLarge as exc:
        return {"kind": "crash", "message": exc.why}
    except _Late:
        return {"kind": "crash", "message": TOO_LATE.format(seconds=seconds)}
    except Malformed:
        return dict(MALFORMED)
    except (EOFError, OSError):
        return None
    try:
        return decode(raw)
    except TooLarge as exc:
        return {"kind": "crash", "message": exc.why}
    except Malformed:
        return dict(MALFORMED)


def _read_message(receiver: Connection, seconds: float) -> bytes:
    """One message in multiprocessing's framing (what `send_bytes` writes: its length, then the
    bytes), read with a deadline: `recv_bytes` would wait for ever on a reply that stops halfway."""
    deadline = time.monotonic() + seconds
    fd = receiver.fileno()
    (size,) = struct.unpack("!i", _read_exactly(fd, 4, deadline))
    if size == -1:  # lengths past 2 GB follow in 8 bytes
        (size,) = struct.unpack("!Q", _read_exactly(fd, 8, deadline))
    if size > MAX_REPLY_BYTES:
        raise TooLarge(TOO_LARGE)  # not a byte of it read
    if size < 0:
        raise Malformed("a negative length")
    return _read_exactly(fd, size, deadline)


def _read_exactly(fd: int, count: int, deadline: float) -> bytes:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    chunks: list[bytes] = []
    left = count
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not poller.poll(wait * 1000):
            raise _Late
        chunk = os.read(fd, min(left, MB))
        if not chunk:
            raise EOFError("the run closed its channel halfway through a message")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# Shapes: what is left of a reply once its strings are taken out. Escapes go first (an escaped
# backslash, then an escaped quote), so every quote left opens or closes a string.
_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(set(range(256)) - set(b"[]{}"))
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def decode(raw: bytes) -> dict[str, Any]:
    """A message from its bytes: JSON with bounded nesting and size, a dict with a str "kind".
    A "crash" message carries a str, cut to MAX_ERROR_CHARS. Other kinds are passed on as they
    are (bounded as a whole); an "ok" message's results are checked by
    lessons.engine.contract.decode_results."""
    try:
        raw.decode("utf-8")  # what the encoder writes; the scan below reads UTF-8 bytes
    except UnicodeDecodeError:
        raise Malformed("not UTF-8") from None
    shape = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    if shape.count(b'"') > 2 * MAX_VALUES:
        raise TooLarge(TOO_MANY_VALUES)
    shape = _STRING.sub(b"", shape)
    if shape.count(b",") + shape.count(b"[") + shape.count(b"{") > MAX_VALUES:
        raise TooLarge(TOO_MANY_VALUES)
    _check_depth(shape.translate(None, _NOT_BRACKETS).translate(_ONE_KIND))
    try:
        message = json.loads(raw, parse_constant=_no_constant)
    except Malformed:
        raise
    except (ValueError, RecursionError):  # RecursionError cannot happen past the depth check
        raise Malformed("not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("kind"), str):
        raise Malformed("not a message")
    if message["kind"] == "crash":
        text = message.get("message")
        if not isinstance(text, str):
            raise Malformed("a crash without a message")
        message["message"] = cut(text, MAX_ERROR_CHARS)
    return message


def _check_depth(brackets: bytes) -> None:
    """Each round removes every innermost pair: what is nested at most MAX_DEPTH deep is gone
    after MAX_DEPTH rounds (anything left is deeper, or does not pair up)."""
    for _ in range(MAX_DEPTH):
        if not brackets:
            return
        brackets = brackets.replace(b"[]", b"")
    if brackets:
        raise Malformed(f"nested deeper than {MAX_DEPTH}")


def _no_constant(name: str) -> Any:
    raise Malformed(f"{name} is not a number a run reports")
