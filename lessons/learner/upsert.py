"""Progress rows written with one INSERT ... ON CONFLICT, its SQL written once per database: both
engines read the same statement (SQLite since 3.24).

An answer writes the learner's answer and where the question stands in their review schedule.
Through the ORM each was an UPDATE that found nothing the first time, then a savepoint and an
INSERT (a race with another request inserting first), each compiled anew: a room of 200 answering
spent a tenth of its server's CPU there. The upsert is one statement, and the database settles
the race itself. Rows kept once (a lesson opened, a snippet run, a prediction) are an INSERT that
leaves the row already there, as bulk_create(ignore_conflicts=True) is, without its compiling.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections, models, router

_ROW = re.compile(r"\b(old|new)\.(\w+)\b")


@dataclass(frozen=True)
class Upsert:
    """Insert `insert` (fields, in the order of the values), or when a row with the same
    `conflict` fields (a unique constraint's) is there, set each field of `update` to its SQL:
    `old.<field>` is the row kept, `new.<field>` the one offered, %s a value after the insert's.
    Without `update`, the row there is kept as it is (bulk_create's ignore_conflicts)."""

    model: type[models.Model]
    insert: tuple[str, ...]
    conflict: tuple[str, ...]
    update: tuple[tuple[str, str], ...] = ()

    @functools.cache  # noqa: B019 - a few module-level statements, kept for the process
    def sql(self, alias: str) -> str:
        quote = connections[alias].ops.quote_name
        meta = self.model._meta
        table = quote(meta.db_table)

        def column(name: str) -> str:
            return quote(meta.get_field(name).column)  # type: ignore[union-attr,arg-type]

        def row(match: re.Match[str]) -> str:
            side, name = match.groups()
            return f"{table if side == 'old' else 'excluded'}.{column(name)}"

        insert = ", ".join(column(name) for name in self.insert)
        holes = ", ".join(["%s"] * len(self.insert))
        conflict = ", ".join(column(name) for name in self.conflict)
        update = ", ".join(f"{column(name)} = {_ROW.sub(row, sql)}" for name, sql in self.update)
        then = f"DO UPDATE SET {update}" if update else "DO NOTHING"
        return f"INSERT INTO {table} ({insert}) VALUES ({holes}) ON CONFLICT ({conflict}) {then}"

    def write(self, values: Sequence[Any], more: Sequence[Any] = ()) -> None:
        """One row: `values` for the insert, then `more` for the update's %s. Dates and times
        are adapted to the database here, as the ORM would."""
        if len(values) != len(self.insert):
            raise TypeError(f"{len(self.insert)} values to insert, got {len(values)}")
        alias = router.db_for_write(self.model)
        connection = connections[alias]
        adapt = connection.ops.adapt_datetimefield_value
        params = [_adapted(value, adapt) for value in (*values, *more)]
        with connection.cursor() as cursor:
            cursor.execute(self.sql(alias), params)


def _adapted(value: Any, adapt: Any) -> Any:
    return adapt(value) if isinstance(value, datetime) else value
