"""Recording what a snippet does, in the run: its SQL (through Django's public `execute_wrapper`
hook) and the model instances it builds. Nothing here formats or groups: see
`lessons.display.report`."""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter
from types import FrameType
from typing import Any

from django.db.models.signals import post_init

from lessons.engine.contract import CapturedQuery


class StatementLimitExceeded(RuntimeError):
    pass


class QueryRecorder:
    """An execute wrapper that records every statement and the snippet line that caused it.

    Sync snippets: the first frame up the stack whose code comes from `filename`. Async snippets:
    the ORM runs the query on this thread while the snippet's coroutine sits suspended on the
    event loop thread, so the line comes from the chain of awaits starting at `coroutine`.
    """

    def __init__(self, filename: str, max_statements: int | None = None) -> None:
        self.filename = filename
        self.max_statements = max_statements
        self.queries: list[CapturedQuery] = []
        self.coroutine: Any = None
        self.first_statement_at: float | None = None  # wall-clock time, for latency figures

    def __call__(
        self,
        execute: Callable[..., Any],
        sql: str,
        params: Any,
        many: bool,
        context: dict[str, Any],
    ) -> Any:
        if self.max_statements is not None and len(self.queries) >= self.max_statements:
            raise StatementLimitExceeded(
                f"The run was stopped after {self.max_statements:,} SQL statements."
            )
        if self.first_statement_at is None:
            self.first_statement_at = time.time()
        line = self._line(sys._getframe(1))
        started = perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append(CapturedQuery(sql, params, many, perf_counter() - started, line))

    def _line(self, frame: FrameType | None) -> int | None:
        while frame is not None:
            if frame.f_code.co_filename == self.filename:
                return frame.f_lineno
            frame = frame.f_back
        return self._awaiting_line()

    def _awaiting_line(self) -> int | None:
        line = None
        awaitable = self.coroutine
        while awaitable is not None:
            frame = _frame_of(awaitable)
            if frame is not None and frame.f_code.co_filename == self.filename:
                line = frame.f_lineno  # keep going: the innermost snippet frame wins
            awaitable = _awaited_by(awaitable)
        return line


def _frame_of(awaitable: Any) -> FrameType | None:
    for attribute in ("cr_frame", "ag_frame", "gi_frame"):
        frame = getattr(awaitable, attribute, None)
        if frame is not None:
            return frame  # type: ignore[no-any-return]
    return None


def _awaited_by(awaitable: Any) -> Any:
    for attribute in ("cr_await", "ag_await", "gi_yieldfrom"):
        inner = getattr(awaitable, attribute, None)
        if inner is not None:
            return inner
    return None


# Instances are counted per run through a context variable, so concurrent runs in other
# threads never add to each other's counts. The signal is connected only while a run is active,
# which keeps model instantiation free of overhead the rest of the time.
_instance_counter: ContextVar[Counter[str] | None] = ContextVar("instance_counter", default=None)
_receiver_lock = threading.Lock()
_active_counters = 0


def _count_instance(sender: type, **kwargs: Any) -> None:
    counter = _instance_counter.get()
    if counter is not None:
        counter[sender.__name__] += 1


@contextmanager
def count_instances() -> Iterator[Counter[str]]:
    """Count model instances built in this context, per model name."""
    global _active_counters
    counter: Counter[str] = Counter()
    token = _instance_counter.set(counter)
    with _receiver_lock:
        if _active_counters == 0:
            post_init.connect(_count_instance, weak=False, dispatch_uid="course-count-instances")
        _active_counters += 1
    try:
        yield counter
    finally:
        _instance_counter.reset(token)
        with _receiver_lock:
            _active_counters -= 1
            if _active_counters == 0:
                post_init.disconnect(dispatch_uid="course-count-instances")


class BoundedOutput:
    """A `print` for one snippet: writes to its own buffer, keeps at most `max_lines` lines."""

    def __init__(self, max_lines: int = 200, max_line_chars: int = 500) -> None:
        self.max_lines = max_lines
        self.max_line_chars = max_line_chars
        self.lines: list[str] = []
        self.dropped = 0
        self._partial = ""  # text printed with end="" that has no newline yet

    def print(
        self, *values: object, sep: str | None = " ", end: str | None = "\n", **_: Any
    ) -> None:
        text = (" " if sep is None else sep).join(str(v) for v in values)
        text += "\n" if end is None else end
        if len(self.lines) >= self.max_lines:
            self.dropped += text.count("\n")  # past the bound: count, keep nothing
            return
        *complete, partial = (self._partial + text).split("\n")
        self._partial = partial[: self.max_line_chars]
        for line in complete:
            if len(self.lines) < self.max_lines:
                self.lines.append(self._shortened(line))
            else:
                self.dropped += 1

    def _shortened(self, line: str) -> str:
        if len(line) <= self.max_line_chars:
            return line
        cut = len(line) - self.max_line_chars
        return f"{line[: self.max_line_chars]}… ({cut:,} more characters not shown)"

    @property
    def text(self) -> str:
        return "\n".join([*self.lines, self._partial] if self._partial else self.lines)
