"""Recording what a snippet does, in the run: its SQL (through Django's public `execute_wrapper`
hook) with the rows read from each statement, and the model instances it builds and keeps alive.
Nothing here formats or groups: see `lessons.display.report`."""

from __future__ import annotations

import gc
import re
import sys
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter
from types import FrameType
from typing import Any

from django.db import DatabaseError
from django.db.models.signals import post_init

from lessons.engine.contract import CapturedQuery


class StatementLimitExceeded(RuntimeError):
    pass


class InjectedFailure(DatabaseError):
    """The write an atomic probe makes fail, as a database that refused it would."""


# The table a write changes: INSERT INTO "t", UPDATE "t", DELETE FROM "t" (Django quotes names).
_WRITE = re.compile(
    r'^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(?P<table>\w+)"?', re.I
)


def written_table(sql: str) -> str | None:
    match = _WRITE.match(sql)
    return match["table"] if match else None


class RowCounter:
    """The database's cursor as Django reads rows from it: each row read counts towards the
    statement that returned it. Everything else is the cursor's own (the names here are unlike
    any a driver uses: psycopg's cursor has a `_query` of its own, which Django reads)."""

    __slots__ = ("_course_cursor", "_course_statement", "_course_tally")

    def __init__(self, cursor: Any, query: CapturedQuery, tally: Callable[[int], None]) -> None:
        self._course_cursor = cursor
        self._course_statement = query
        self._course_tally = tally  # the witness's own count of the same rows

    def _read(self, count: int) -> None:
        self._course_statement.rows += count
        self._course_tally(count)

    def fetchone(self) -> Any:
        row = self._course_cursor.fetchone()
        if row is not None:
            self._read(1)
        return row

    def fetchmany(self, *args: Any, **kwargs: Any) -> Any:
        rows = self._course_cursor.fetchmany(*args, **kwargs)
        self._read(len(rows))
        return rows

    def fetchall(self) -> Any:
        rows = self._course_cursor.fetchall()
        self._read(len(rows))
        return rows

    def __iter__(self) -> Iterator[Any]:
        for row in self._course_cursor:
            self._read(1)
            yield row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._course_cursor, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in RowCounter.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._course_cursor, name, value)


class QueryRecorder:
    """An execute wrapper that records every statement and the snippet line that caused it.

    Sync snippets: the first frame up the stack whose code comes from `filename`. Async snippets:
    the ORM runs the query on this thread while the snippet's coroutine sits suspended on the
    event loop thread, so the line comes from the chain of awaits starting at `coroutine`.
    """

    def __init__(
        self,
        filename: str,
        max_statements: int | None = None,
        *,
        fail_on_write: int | None = None,
        before_first_write: Callable[[Any, str], None] | None = None,
    ) -> None:
        self.filename = filename
        self.max_statements = max_statements
        self.queries: list[CapturedQuery] = []
        self.recorded = 0  # statements appended to `queries`, for the integrity check
        self.coroutine: Any = None
        self.first_statement_at: float | None = None  # wall-clock time, for latency figures
        # The atomic probe: the Nth write fails; each table is shown to `before_first_write`
        # before the code first writes to it.
        self.fail_on_write = fail_on_write
        self.before_first_write = before_first_write
        self.writes = 0
        self.failed_write = False
        self.written: set[str] = set()
        self.count_rows = True  # off only to measure what counting rows costs (benchmarks/)
        # Where each row read is counted a second time (the witness, lessons.engine.child.integrity)
        self.tally_rows: Callable[[int], None] = lambda count: None

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
        if self.fail_on_write is not None:
            self._probe(sql, context)
        cursor = context.get("cursor")
        if isinstance(getattr(cursor, "cursor", None), RowCounter):
            cursor.cursor = cursor.cursor._course_cursor  # type: ignore[union-attr]  # reused for another
        query = CapturedQuery(sql, params, many, 0.0, line)
        started = perf_counter()
        try:
            returned = execute(sql, params, many, context)
        finally:
            query.duration = perf_counter() - started
            self.queries.append(query)
            self.recorded += 1
        if self.count_rows and not many and cursor is not None and hasattr(cursor, "cursor"):
            cursor.cursor = RowCounter(cursor.cursor, query, self.tally_rows)
        return returned

    def _probe(self, sql: str, context: dict[str, Any]) -> None:
        table = written_table(sql)
        if table is None:
            return
        self.writes += 1
        # From the Nth on, as a database gone away would: no write after the failure gets through,
        # so undoing by hand cannot pass for all or nothing.
        if self.fail_on_write is not None and self.writes >= self.fail_on_write:
            self.failed_write = True
            raise InjectedFailure(
                f"The course made write number {self.writes} fail on purpose, to see what the "
                "code's earlier writes leave behind."
            )
        if table not in self.written and self.before_first_write is not None:
            self.before_first_write(context["connection"], table)
        self.written.add(table)

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


class Instances:
    """The model instances built in a run, per model, and the most alive at once.

    Each instance built is watched through a weak reference, which tells when it is gone. An
    instance in a reference cycle (a prefetched comment points back at its post) is gone only
    when the collector runs, so a new high is believed only after a collection: whenever the
    count passes the peak by half, the collector runs first (cheap: the warm process froze what it
    built, lessons.engine.child.warm). The peak is within a third of the truth, never above it."""

    CONFIRM_FROM = 1_000  # below this, every high is believed: too few objects to matter

    def __init__(self, watch: bool = True) -> None:
        self.watch = watch  # off only to measure what watching costs (benchmarks/)
        self.built: Counter[str] = Counter()
        self.alive = 0
        self.peak = 0
        # By the reference's id: a weak reference hashes as its model instance, and an unsaved
        # instance has no hash.
        self._watching: dict[int, weakref.ref[Any]] = {}

    def add(self, sender: type, instance: Any) -> None:
        self.built[sender.__name__] += 1
        if not self.watch:
            return
        ref = weakref.ref(instance, self._gone)
        self._watching[id(ref)] = ref
        self.alive += 1
        if self.alive <= self.peak:
            return
        if self.alive < self.CONFIRM_FROM:
            self.peak = self.alive
        elif self.alive >= self.peak * 3 // 2:
            gc.collect()  # what only cycles keep alive is gone now, and counted so
            self.peak = max(self.peak, self.alive)

    def finish(self) -> None:
        """The last high, believed after a collection like the others."""
        if self.alive > self.peak:
            gc.collect()
            self.peak = max(self.peak, self.alive)

    def _gone(self, ref: weakref.ref[Any]) -> None:
        self.alive -= 1
        self._watching.pop(id(ref), None)


# Instances are counted per run through a context variable, so concurrent runs in other
# threads never add to each other's counts. The signal is connected only while a run is active,
# which keeps model instantiation free of overhead the rest of the time.
_instance_counter: ContextVar[Instances | None] = ContextVar("instance_counter", default=None)
_receiver_lock = threading.Lock()
COUNT_INSTANCES = "course-count-instances"  # the receiver's dispatch_uid
_active_counters = 0


def _count_instance(sender: type, instance: Any = None, **kwargs: Any) -> None:
    counter = _instance_counter.get()
    if counter is not None:
        counter.add(sender, instance)


@contextmanager
def count_instances(watch: bool = True) -> Iterator[Instances]:
    """Count model instances built in this context, per model name, and the most alive at once."""
    global _active_counters
    counter = Instances(watch)
    token = _instance_counter.set(counter)
    with _receiver_lock:
        if _active_counters == 0:
            post_init.connect(_count_instance, weak=False, dispatch_uid=COUNT_INSTANCES)
        _active_counters += 1
    try:
        yield counter
        counter.finish()
    finally:
        _instance_counter.reset(token)
        with _receiver_lock:
            _active_counters -= 1
            if _active_counters == 0:
                post_init.disconnect(dispatch_uid=COUNT_INSTANCES)


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
