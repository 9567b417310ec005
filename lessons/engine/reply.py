"""Reading a run's reply in the web process, which believes none of it.

A run is a learner's code, and once it has switched the audit hook off it can write anything to
its channel. The server reads what arrives as data, and bounds it before it costs anything:

- once a reply has started, all of it must arrive within REPLY_SECONDS, and at most
  MAX_REPLY_BYTES are read: a longer reply is never read at all;
- nesting deeper than MAX_DEPTH, or more than MAX_VALUES values, is refused before json.loads
  sees the text (its decoder recurses once per level, and every value costs memory);
- every field must have the type and range the run's own encoder (sandbox.result_to_data)
  gives it, or the reply is malformed;
- the sizes are capped again here, whatever the run says it did: at most `limits.max_statements`
  statements per result, and each statement's text, its parameters, the output, the error and
  the counts of objects built. What is cut is said in words, in `RunResult.truncated`.

How much of what is kept a page formats is bounded in lessons.display.report.
"""

from __future__ import annotations

import json
import math
import os
import re
import select
import struct
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from lessons.engine.capture import CapturedQuery
from lessons.engine.runner import RunError, RunResult
from lessons.engine.sandbox import Limits, Task

MB = 1024 * 1024
# An honest reply is far smaller: 20,000 statements of a few hundred characters are about 6 MB.
MAX_REPLY_BYTES = 16 * MB
# 4 tasks (an exercise check) of 20,000 statements are about 600,000. Each value costs the server
# up to 80 bytes once parsed, so this bounds what the largest reply weighs in memory.
MAX_VALUES = 1_000_000
# message > results > result > queries > statement > parameters > a row of executemany > an
# array parameter: 8 levels. Deeper is not a reply the run's encoder makes.
MAX_DEPTH = 12
REPLY_SECONDS = 2.0  # a started reply arrives in full by then: 16 MB through a pipe takes ms

MAX_SQL_CHARS = 100_000  # per statement; an IN list of 5,000 ids is about 30,000
MAX_PARAMS_SIZE = 100_000  # per statement: characters of text, plus one per other value
MAX_OUTPUT_CHARS = 128_000  # above the run's own bound on printing (200 lines of 500 characters)
MAX_ERROR_CHARS = 10_000
MAX_NAME_CHARS = 200  # an error's type, a model's name
MAX_MODELS = 100  # kinds of objects counted as built
MAX_COUNT = 2**63  # any count, size, line number or time a run reports is below this

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


class Malformed(ValueError):
    """The reply is not something the run's own encoder makes."""


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
    are (bounded as a whole); an "ok" message's results are checked by `results`."""
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
        message["message"] = _cut(text, MAX_ERROR_CHARS)
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


def results(message: dict[str, Any], tasks: Sequence[Task], limits: Limits) -> list[RunResult]:
    """The results of an "ok" message, one per task, each checked and bounded. Malformed when
    anything in them is not what the run's encoder makes."""
    data = message.get("results")
    if not isinstance(data, list) or len(data) != len(tasks):
        raise Malformed("one result per task")
    return [_result(item, task, limits) for item, task in zip(data, tasks, strict=True)]


_RESULT_FIELDS = (
    "dataset",
    "queries",
    "duration",
    "output",
    "output_dropped",
    "objects_built",
    "peak_memory",
    "error",
    "first_statement_at",
)


def _result(data: Any, task: Task, limits: Limits) -> RunResult:
    if not isinstance(data, dict) or not all(name in data for name in _RESULT_FIELDS):
        raise Malformed("a result without its fields")
    if data["dataset"] != task.dataset:
        raise Malformed("a result for another dataset")
    notes: list[str] = []
    queries = _queries(_of(data["queries"], list), limits.max_statements, notes)
    output = _of(data["output"], str)
    if len(output) > MAX_OUTPUT_CHARS:
        output = output[:MAX_OUTPUT_CHARS]
        notes.append(
            f"The output was longer than {MAX_OUTPUT_CHARS:,} characters: the rest was not kept."
        )
    error = data["error"]
    if error is not None:
        if not isinstance(error, list) or len(error) != 3:
            raise Malformed("an error is [type, message, line]")
        error = RunError(
            _cut(_of(error[0], str), MAX_NAME_CHARS),
            _cut(_of(error[1], str), MAX_ERROR_CHARS),
            _line(error[2]),
        )
    return RunResult(
        dataset=task.dataset,
        queries=queries,
        duration=_seconds(data["duration"]),
        output=output,
        output_dropped=_count(data["output_dropped"]),
        objects_built=_objects_built(_of(data["objects_built"], dict), notes),
        peak_memory=None if data["peak_memory"] is None else _count(data["peak_memory"]),
        error=error,
        first_statement_at=(
            None if data["first_statement_at"] is None else _seconds(data["first_statement_at"])
        ),
        truncated=notes,
    )


def _queries(data: list[Any], max_statements: int, notes: list[str]) -> list[CapturedQuery]:
    # The run stops itself at max_statements; more means it was not the run's encoder talking.
    if len(data) > max_statements:
        notes.append(
            f"The run reported {len(data):,} statements, more than the limit of "
            f"{max_statements:,}: {len(data) - max_statements:,} were not kept."
        )
        data = data[:max_statements]
    cut = dropped = 0
    queries = []
    for item in data:
        if not isinstance(item, list) or len(item) != 5:
            raise Malformed("a statement is [sql, params, many, duration, line]")
        sql, params, many, duration, line = item
        sql = _of(sql, str)
        if len(sql) > MAX_SQL_CHARS:
            sql, cut = _cut(sql, MAX_SQL_CHARS), cut + 1
        if not (params is None or isinstance(params, list | dict)):
            raise Malformed("parameters are a list, a dict or null")
        if params is not None and _size(params, MAX_PARAMS_SIZE) > MAX_PARAMS_SIZE:
            params, dropped = None, dropped + 1
        queries.append(CapturedQuery(sql, params, _of(many, bool), _seconds(duration), _line(line)))
    if cut:
        notes.append(
            f"{cut:,} statement{'s were' if cut > 1 else ' was'} longer than "
            f"{MAX_SQL_CHARS:,} characters: only the beginning is kept."
        )
    if dropped:
        notes.append(
            f"{dropped:,} statement{'s' if dropped > 1 else ''} had parameters too large to keep: "
            "shown without them."
        )
    return queries


def _size(value: Any, limit: int) -> int:
    """Characters of text plus one per other value, counted until past `limit`. Recursion is
    bounded: the reply's nesting was checked before parsing."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = [*value, *value.values()]
    if isinstance(value, list):
        total = 1
        for item in value:
            total += _size(item, limit - total)
            if total > limit:
                break
        return total
    return 1


def _objects_built(data: dict[str, Any], notes: list[str]) -> dict[str, int]:
    if len(data) > MAX_MODELS:
        notes.append(
            f"Objects of {len(data):,} kinds were counted as built: only {MAX_MODELS} are shown."
        )
    return {
        _cut(_of(name, str), MAX_NAME_CHARS): _count(number)
        for name, number in list(data.items())[:MAX_MODELS]
    }


def _of(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise Malformed(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _count(value: Any) -> int:
    number: int = _of(value, int)
    if not 0 <= number < MAX_COUNT:
        raise Malformed("a count out of range")
    return number


def _line(value: Any) -> int | None:
    if value is None:
        return None
    number = _count(value)
    if number < 1:
        raise Malformed("a line number out of range")
    return number


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed("a time is a number")
    # Compared before float(): an int of a thousand digits does not convert.
    if not (0 <= value < MAX_COUNT) or not math.isfinite(value):
        raise Malformed("a time out of range")
    return float(value)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters not kept)"
