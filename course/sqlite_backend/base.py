"""SQLite for the course's own tables (sessions, progress), with write transactions taking turns
on locks here rather than in SQLite.

SQLite lets one write transaction at a time in; the others wait in its busy handler, which sleeps
between looks at the lock (up to 100 ms at a time), so a lock freed after a millisecond may sit
unused while everyone sleeps. When a room of 200 opens a lesson at once, each page writing that
it was opened, those sleeps were most of a page's time. Here a writer first takes its process's
turn (a thread lock), then the server's (an flock on a file beside the database, which the
kernel hands on the moment it is released, across every process of the server): it starts the
moment the one before it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_writing = threading.Lock()  # this process's turn
_turn_file: dict[str, int] = {}  # database file -> this process's descriptor of its turn file


def _turn_descriptor(database: str) -> int:
    if database not in _turn_file or _turn_file[database] < 0:
        _turn_file[database] = os.open(f"{database}.writing", os.O_RDWR | os.O_CREAT, 0o600)
    return _turn_file[database]


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_turn = False

    def _start_transaction_under_autocommit(self) -> None:  # type: ignore[misc]
        # As long as SQLite itself would wait for the lock, then the error it gives.
        timeout = float(self.settings_dict.get("OPTIONS", {}).get("timeout", 5))
        deadline = time.monotonic() + timeout
        if not _writing.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_write_turn = True
        try:
            self._take_server_turn(deadline)
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
        except BaseException:
            self._end_write_turn()
            raise

    def _take_server_turn(self, deadline: float) -> None:
        name = str(self.settings_dict["NAME"])
        if self.is_in_memory_db():
            return
        descriptor = _turn_descriptor(name)
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError("database is locked") from None
                time.sleep(0.0005)  # a write transaction here takes about a millisecond

    def set_autocommit(self, autocommit: bool, *args: Any, **kwargs: Any) -> None:
        try:
            super().set_autocommit(autocommit, *args, **kwargs)
        finally:
            if autocommit:  # the transaction is over: committed or rolled back
                self._end_write_turn()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]
        finally:
            self._end_write_turn()

    def _end_write_turn(self) -> None:
        if self._holds_write_turn:
            self._holds_write_turn = False
            if not self.is_in_memory_db():
                with contextlib.suppress(OSError, KeyError):
                    fcntl.flock(_turn_file[str(self.settings_dict["NAME"])], fcntl.LOCK_UN)
            _writing.release()
