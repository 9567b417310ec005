"""Presentation of what a run cost beside its count: statements by kind, rows read, objects
built and alive at once, peak memory. The run measured them (lessons.engine.child.capture, and the
kernel for memory); this only names and orders them for a page."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from lessons.engine import CapturedQuery, RunResult

# The kinds a person reads, in the order the panel lists them.
KINDS = ("SELECT", "INSERT", "UPDATE", "DELETE", "savepoint", "transaction", "other")
_FIRST_WORD = re.compile(r"^\s*(?:/\*.*?\*/\s*)?(\w+)(?:\s+(\w+))?", re.S)
_TRANSACTION = {"BEGIN", "COMMIT", "ROLLBACK", "START", "END", "SET"}


def kind(sql: str) -> str:
    """SELECT, INSERT, UPDATE, DELETE, savepoint (SAVEPOINT, RELEASE, ROLLBACK TO), transaction
    (BEGIN, COMMIT, ROLLBACK and the like) or other."""
    match = _FIRST_WORD.match(sql)
    if match is None:
        return "other"
    first, second = match[1].upper(), (match[2] or "").upper()
    if first == "WITH":  # a common table expression: the statement's verb comes later
        verb = re.search(r"\)\s*(SELECT|INSERT|UPDATE|DELETE)\b", sql, re.I)
        return verb[1].upper() if verb else "SELECT"
    if first in ("SELECT", "INSERT", "UPDATE", "DELETE"):
        return first
    if first in ("SAVEPOINT", "RELEASE") or (first == "ROLLBACK" and second == "TO"):
        return "savepoint"
    if first in _TRANSACTION:
        return "transaction"
    return "other"


@dataclass(frozen=True)
class Costs:
    kinds: tuple[tuple[str, int], ...]  # (kind, statements), the kinds that occur, in KINDS order
    rows: int
    objects: int
    alive: int
    memory: int | None  # bytes at the peak: Python's own when the lesson measured it, else the
    memory_is_python: bool  # kernel's account of the run's process


def costs(result: RunResult) -> Costs:
    counted = Counter(kind(query.sql) for query in result.queries)
    python = result.peak_memory is not None
    return Costs(
        kinds=tuple((name, counted[name]) for name in KINDS if counted[name]),
        rows=result.rows_fetched,
        objects=result.objects_built_total,
        alive=result.objects_alive_peak,
        memory=result.peak_memory if python else result.process_peak_memory,
        memory_is_python=python,
    )


def most_rows(queries: Sequence[CapturedQuery]) -> CapturedQuery | None:
    """The statement that returned the most rows, if any returned a row."""
    best = max(queries, key=lambda q: q.rows, default=None)
    return best if best is not None and best.rows else None
