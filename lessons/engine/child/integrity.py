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

from lessons.engine.child.capture import QueryRecorder
from lessons.engine.contract import CapturedQuery

# What SQLite's trace callback reports that Django never sent: the driver's own BEGIN before a
# write, and the statements of triggers (prefixed with a comment).
_DRIVER_OWN = re.compile(r"^\s*(BEGIN\b|--)", re.I)
CANARY = "SELECT 1 /* course: is the witness listening? */"


class Witness:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.raw = connection.connection
        self.seen = 0
        self._factory: Any = None
        if connection.vendor == "sqlite":
            self.raw.set_trace_callback(self._traced)
        elif connection.vendor == "postgresql":
            self._factory = _counting(self.raw.cursor_factory, self)
            self.raw.cursor_factory = self._factory

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
) -> list[str]:
    """What is wrong with this run's measuring, in words; empty when the count can be trusted.
    `recorded`: the recorder's list of statements as the run began."""
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
    if witness is not None:
        if not witness.still_listening():
            found.append("The run silenced the statement counter below Django.")
        else:
            sent = recorder.sent_on.get(id(connection), 0)
            if witness.seen > sent:
                found.append(
                    f"{witness.seen - sent:,} statement(s) reached the database without passing "
                    "through Django's execute wrappers, so the recorder did not count them."
                )
    return found
