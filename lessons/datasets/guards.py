"""Everything that keeps the datasets unchanged, in one place.

Three layers, each enough on its own for the usual case:
1. Dataset connections are read-only (SQLite's `query_only`) unless a context says otherwise:
   seeding and test set-up, and a running snippet for its own connection only.
2. On that one connection, SQLite's authorizer refuses any statement that would end the run's
   transaction or reach another database file, however it is spelled or sent.
3. The runner always rolls its transaction back (see lessons.engine.child.runner).
On PostgreSQL, layers 1 and 2 are the server's: runs log in as a role that cannot commit a change
to a dataset (lessons.datasets.pgguard); writable() logs in as the owner instead.
A regular expression check in front gives the common attempt (`COMMIT` in raw SQL) a clear message.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from lessons import datasets
from lessons.datasets import pgguard

_writable: contextvars.ContextVar[bool] = contextvars.ContextVar("dataset_writable", default=False)

_TRANSACTION_CONTROL = re.compile(
    r"^\s*(BEGIN|COMMIT|END|ROLLBACK(?!\s+(TRANSACTION\s+)?TO\b)|ATTACH|DETACH|VACUUM)\b",
    re.IGNORECASE,
)
_DENIED_ACTIONS = {sqlite3.SQLITE_TRANSACTION, sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}


class TransactionControlRefused(RuntimeError):
    pass


def set_read_only(connection: BaseDatabaseWrapper, read_only: bool) -> None:
    """Flip SQLite's query_only on an open dataset connection, outside any query capture."""
    if connection.vendor == "sqlite" and connection.connection is not None:
        connection.connection.execute(f"PRAGMA query_only = {int(read_only)}")


def protect_new_connection(
    sender: object, connection: BaseDatabaseWrapper, **kwargs: object
) -> None:
    """connection_created receiver: a new dataset connection starts read-only."""
    if connection.alias in datasets.ALL_SPECS and not _writable.get():
        set_read_only(connection, True)


@contextlib.contextmanager
def writable() -> Iterator[None]:
    """Allow writes to the datasets in this context: for seeding and building test databases."""
    if _writable.get():  # nested (loaddata inside a test's writable block): already so
        yield
        return
    token = _writable.set(True)
    logins = {name: _log_in_as_owner(connections[name]) for name in datasets.ALL_SPECS}
    for name in datasets.ALL_SPECS:
        set_read_only(connections[name], False)
    try:
        yield
    finally:
        _writable.reset(token)
        for name in datasets.ALL_SPECS:
            set_read_only(connections[name], True)
            if (login := logins[name]) is not None:
                # loaddata moves the id sequences, and a rollback never moves them back: leave
                # them past the ids the dataset holds, so a run's create() gets a fresh one.
                pgguard.reset_sequences(name)
                connections[name].close()
                connections[name].settings_dict.update(login)


def _log_in_as_owner(connection: BaseDatabaseWrapper) -> dict[str, Any] | None:
    """On PostgreSQL, reconnect as the role that owns the datasets (see pgguard): the role runs
    and pages use can never commit a change. Returns the login to go back to."""
    if connection.vendor != "postgresql":
        return None
    login = {key: connection.settings_dict[key] for key in ("USER", "PASSWORD")}
    connection.close()
    connection.settings_dict.update(settings.COURSE_PG_OWNER)
    return login


@contextlib.contextmanager
def sandbox(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Let this run's connection write, inside its transaction, and nothing else."""
    with connection.execute_wrapper(_refuse_transaction_control):
        if connection.vendor != "sqlite":
            yield
            return
        raw = connection.connection
        set_read_only(connection, False)
        sqlite3.Connection.set_authorizer(raw, _authorize)
        try:
            yield
        finally:
            sqlite3.Connection.set_authorizer(raw, None)
            set_read_only(connection, True)


class GuardedConnection(sqlite3.Connection):
    """The sqlite3 connection a run's dataset connections are made of: the run cannot take the
    authorizer off with `connection.connection.set_authorizer(None)` (and then COMMIT). Python
    code can still call the base class's method on it; that reaches only the run's own copy of
    the dataset, made for this one task and thrown away after it."""

    def set_authorizer(self, *args: Any, **kwargs: Any) -> None:
        raise TransactionControlRefused(
            "Changing the database's authorizer is refused here: every run happens inside one "
            "transaction that is always rolled back, so the datasets never change."
        )


def _authorize(action: int, arg1: str | None, *args: object) -> int:
    if action in _DENIED_ACTIONS or (action == sqlite3.SQLITE_PRAGMA and arg1 == "query_only"):
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _refuse_transaction_control(
    execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    if _TRANSACTION_CONTROL.match(sql):
        statement = sql.split(None, 1)[0].upper()
        raise TransactionControlRefused(
            f"{statement} is refused here: every run happens inside one transaction that is "
            "always rolled back, so the datasets never change."
        )
    return execute(sql, params, many, context)
