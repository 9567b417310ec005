"""Progress writes of one server process, combined into one transaction when they come together.

A room of 200 opening a lesson (or pressing Run, or answering) at once sends 200 small write
transactions. SQLite lets one in at a time, and the thread holding the turn shares the process
with every thread waiting, so each of those turns lasts far longer than its writes. Here the
thread whose turn it is writes everything the other threads of its process asked for meanwhile,
in one transaction (a savepoint each, so one failing undoes only its own), and each asker returns
once its own write is committed, as before. On PostgreSQL writes do not queue: each runs alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction

_asked: list[_Write] = []
_asked_lock = threading.Lock()
_turn = threading.Lock()  # held by the thread writing a batch
_inside = threading.local()


@dataclass
class _Write:
    work: Callable[[], None]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


def write(work: Callable[[], None]) -> None:
    """Run `work` (database writes to the course's own tables) in a transaction, together with
    the writes other threads of this process ask for meanwhile; its exception, if any, is raised
    here."""
    if connection.vendor != "sqlite" or getattr(_inside, "batch", False):
        with transaction.atomic():
            work()
        return
    mine = _Write(work)
    with _asked_lock:
        _asked.append(mine)
    while not mine.done.is_set():
        if _turn.acquire(timeout=0.002):
            try:
                _write_batch()
            finally:
                _turn.release()
        else:
            mine.done.wait(0.002)
    if mine.error is not None:
        raise mine.error


def _write_batch() -> None:
    """Everything asked so far, in one transaction; each write's error kept for its asker."""
    with _asked_lock:
        batch = list(_asked)
        _asked.clear()
    if not batch:
        return
    _inside.batch = True
    try:
        with transaction.atomic():
            if len(batch) == 1:  # alone: its failure is the transaction's, as without combining
                batch[0].work()
            for asked in batch if len(batch) > 1 else []:
                try:
                    with transaction.atomic():  # a savepoint: a failure undoes this one only
                        asked.work()
                except Exception as exc:
                    asked.error = exc
    except Exception as exc:  # the transaction itself failed: every write in it did
        for asked in batch:
            asked.error = asked.error or exc
    finally:
        _inside.batch = False
        for asked in batch:
            asked.done.set()
