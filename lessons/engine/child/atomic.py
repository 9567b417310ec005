"""The atomic probe, in the run: what the code's writes left behind when one of them failed.

Before the code first writes to a table, the probe takes the table's rows; once the code has
ended (the Nth write failed: lessons.engine.child.capture.InjectedFailure), it takes them again.
Rows that differ were written and not undone. Both reads go to the database connection itself,
past the recorder: they are the course's, not the code's."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper

from lessons.engine.contract import AtomicProbe


class TableSnapshots:
    def __init__(self) -> None:
        self.before: dict[str, Counter[tuple[Any, ...]]] = {}

    def take(self, connection: BaseDatabaseWrapper, table: str) -> None:
        """`before_first_write` for the recorder: the rows of `table` as the code found them."""
        self.before[table] = _rows(connection, table)

    def probe(
        self, connection: BaseDatabaseWrapper, fail_on_write: int, reached: bool
    ) -> AtomicProbe:
        left: dict[str, int] = {}
        for table, before in self.before.items():
            try:
                after = _rows(connection, table)
            except Exception:
                return AtomicProbe(fail_on_write, reached, 0, ())
            changed = max(sum((before - after).values()), sum((after - before).values()))
            if changed:
                left[table] = changed
        return AtomicProbe(fail_on_write, reached, sum(left.values()), tuple(sorted(left)))


def _rows(connection: BaseDatabaseWrapper, table: str) -> Counter[tuple[Any, ...]]:
    # `table` comes from a statement Django wrote (lessons.engine.child.capture.written_table:
    # letters, digits and underscores only); quoting keeps it a name.
    cursor = connection.connection.cursor()  # the driver's own cursor: not recorded
    try:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
        return Counter(tuple(row) for row in cursor.fetchall())
    finally:
        cursor.close()
