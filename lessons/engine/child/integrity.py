"""Whether a run's query count can be trusted, checked in the run once its code has ended.

The recorder (lessons.engine.child.capture.QueryRecorder) sees what passes through Django's
`execute_wrapper`. A run can take it out of the connection's wrappers, replace the list, or talk
to the database driver past Django. So, beside the recorder, a witness counts the statements that
reach the driver itself: SQLite's trace callback (every statement SQLite runs), and on PostgreSQL
a cursor class under the driver's connection (every statement psycopg is asked to send). After
the code, the witness sends one statement of its own to prove it is still listening, and the
problems found are reported with the result. A run that found any fails its check.

All of this lives in the run's own process, which the code could rewrite: it is evidence against
the easy tricks, not a wall (SECURITY.md says what is measured outside the run)."""

from __future__ import annotations

import re
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_init

from lessons.engine.child.capture import COUNT_INSTANCES, QueryRecorder
from lessons.engine.contract import CapturedQuery

# What SQLite's trace callback reports that Django never sent: the driver's own BEGIN before a
# write, the statements of triggers (prefixed with a comment), and the SELECT QUOTE(...) of
# literal values Django's debug cursor sends to show a statement with its parameters (literals
# only: such a statement reads nothing).
_LITERAL = r"(?:'(?:[^']|'')*'|X'[0-9A-Fa-f]*'|[-+0-9.eE]+|NULL|\?)"
_DRIVER_OWN = re.compile(
    rf"^\s*(?:BEGIN\b|--|SELECT QUOTE\({_LITERAL}\)(?:, QUOTE\({_LITERAL}\))*$)", re.I | re.S
)
CANARY = "SELECT 1 /* course: is the witness listening? */"


class Witness:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.raw = connection.connection
        self.seen = 0
        self.rows = 0  # rows the row counters read, counted here a second time
        self._factory: Any = None
        if connection.vendor == "sqlite":
            self.raw.set_trace_callback(self._traced)
        elif connection.vendor == "postgresql":
            self._factory = _counting(self.raw.cursor_factory, self)
            self.raw.cursor_factory = self._factory

    def tally(self, count: int) -> None:
        self.rows += count

    def _traced(self, statement: str) -> None:
        if not _DRIVER_OWN.match(statement):
            self.seen += 1

    def still_listening(self) -> bool:
        if self.connection.connection is not self.raw:
            return False
        if self._factory is not None and self.raw.cursor_factory is not self._factory:
            return False
        before = self.seen
        try:
            cursor = self.raw.cursor()
            try:
                cursor.execute(CANARY)
                cursor.fetchall()
            finally:
                cursor.close()
        except Exception:
            # Nothing more reaches the database in it, and the cursor class is still ours.
            return self._factory is not None
        finally:
            listened, self.seen = self.seen - before, before  # the canary is not the code's
        return listened == 1

    def close(self) -> None:
        if self.connection.vendor == "sqlite":
            self.raw.set_trace_callback(None)
        elif self._factory is not None:
            self.raw.cursor_factory = self._factory.__mro__[1]


def _counting(factory: type, witness: Witness) -> type:
    class Counted(factory):  # type: ignore[valid-type, misc]
        def execute(self, *args: Any, **kwargs: Any) -> Any:
            witness.seen += 1
            return super().execute(*args, **kwargs)

        def executemany(self, *args: Any, **kwargs: Any) -> Any:
            witness.seen += 1
            return super().executemany(*args, **kwargs)

    return Counted


def problems(
    connection: BaseDatabaseWrapper,
    recorder: QueryRecorder,
    recorded: list[CapturedQuery],
    witness: Witness | None,
    *,
    own_reads: int = 0,
    fail_on_write: int | None = None,
) -> list[str]:
    """What is wrong with this run's measuring, in words; empty when the count can be trusted.
    `recorded`: the recorder's list of statements as the run began; `own_reads`: statements the
    course sent on the connection itself (the atomic probe's reads); `fail_on_write`: the write
    the task asked to fail."""
    found = []
    wrappers = connection.execute_wrappers
    if type(wrappers) is not list or not any(w is recorder for w in wrappers):
        found.append("The run took the course's recorder out of the connection's wrappers.")
    if type(recorder) is not QueryRecorder or recorder.queries is not recorded:
        found.append("The run replaced the course's recorder or its list of statements.")
    elif len(recorded) != recorder.recorded:
        found.append("The run removed statements from the course's recorder.")
    elif any(type(query) is not CapturedQuery for query in recorded):
        found.append("The run put statements of its own into the course's recorder.")
    if recorder.fail_on_write != fail_on_write:
        found.append("The run changed which of its writes the atomic probe makes fail.")
    if not _counting_instances():
        found.append("The run switched off the count of the model objects it builds.")
    if witness is None:
        return found
    if not witness.still_listening():
        found.append("The run silenced the statement counter below Django.")
        return found
    expected = own_reads + sum(_driver_statements(connection, query) for query in recorded)
    if witness.seen > expected:
        found.append(
            f"{witness.seen - expected:,} statement(s) reached the database without being "
            "recorded (sent past Django's execute wrappers, or taken out of the recorder)."
        )
    if recorder.tally_rows != witness.tally or witness.rows != sum(q.rows for q in recorded):
        found.append("The run changed how many rows its statements read.")
    return found


def _driver_statements(connection: BaseDatabaseWrapper, query: CapturedQuery) -> int:
    """SQLite runs an executemany once per row; psycopg is asked once."""
    if query.many and connection.vendor == "sqlite" and hasattr(query.params, "__len__"):
        return len(query.params)  # type: ignore[arg-type]
    return 1


def _counting_instances() -> bool:
    return any(key[0] == COUNT_INSTANCES for key, *_ in post_init.receivers)
