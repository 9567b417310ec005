"""Presentation of a run: SQL formatting and highlighting, similar/duplicate grouping, per-line
counts for the code gutter. It reads what `lessons.engine.capture` recorded, never a database.

Grouping follows django-debug-toolbar's idea: *similar* queries share their SQL text, *duplicate*
queries share SQL text and parameters. A similar group whose parameters vary is the N+1 signature.
"""

from __future__ import annotations

import datetime
import decimal
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.safestring import SafeString

from lessons.display.highlight import format_sql, highlight_python_lines, highlight_sql
from lessons.engine.capture import CapturedQuery

SHOWN_QUERIES = 50  # the panel lists this many statements; the JSON API returns all of them


def similar_key(query: CapturedQuery) -> str:
    return query.sql


def duplicate_key(query: CapturedQuery) -> tuple[str, str]:
    return query.sql, repr(query.params)


@dataclass(frozen=True)
class QueryRow:
    index: int
    query: CapturedQuery
    similar: int  # how many statements share this SQL text (1 = unique)
    duplicate: int  # how many share SQL text and parameters

    @property
    def duration_ms(self) -> float:
        return self.query.duration * 1000

    @property
    def html(self) -> SafeString:
        query = self.query
        return highlight_sql(interpolate(format_sql(query.sql), query.params, query.many), True)


@dataclass(frozen=True)
class StatementGroup:
    """Statements that share their SQL text."""

    sql: str
    count: int
    distinct_params: int
    lines: tuple[int, ...]
    duration_ms: float

    @property
    def is_n_plus_one(self) -> bool:
        return self.count > 1 and self.distinct_params > 1

    @property
    def has_duplicates(self) -> bool:
        return self.distinct_params < self.count

    @property
    def html(self) -> SafeString:
        return highlight_sql(self.sql)


@dataclass(frozen=True)
class QueryReport:
    rows: list[QueryRow]
    groups: list[StatementGroup]  # repeated statements only, most frequent first
    lines: dict[int, int]  # snippet line -> queries it fired

    @property
    def shown_rows(self) -> list[QueryRow]:
        return self.rows[:SHOWN_QUERIES]

    @property
    def hidden_rows(self) -> int:
        return max(0, len(self.rows) - SHOWN_QUERIES)

    @property
    def n_plus_one(self) -> list[StatementGroup]:
        return [g for g in self.groups if g.is_n_plus_one]

    @property
    def duplicated(self) -> list[StatementGroup]:
        return [g for g in self.groups if g.has_duplicates]


def build_report(queries: Sequence[CapturedQuery]) -> QueryReport:
    similar: Counter[str] = Counter(similar_key(q) for q in queries)
    duplicate: Counter[tuple[str, str]] = Counter(duplicate_key(q) for q in queries)
    rows = [
        QueryRow(i, q, similar[similar_key(q)], duplicate[duplicate_key(q)])
        for i, q in enumerate(queries, 1)
    ]
    by_sql: dict[str, list[CapturedQuery]] = defaultdict(list)
    for q in queries:
        by_sql[similar_key(q)].append(q)
    groups = [
        StatementGroup(
            sql=sql,
            count=len(members),
            distinct_params=len({repr(q.params) for q in members}),
            lines=tuple(sorted({q.line for q in members if q.line is not None})),
            duration_ms=sum(q.duration for q in members) * 1000,
        )
        for sql, members in by_sql.items()
        if len(members) > 1
    ]
    groups.sort(key=lambda g: -g.count)
    lines = Counter(q.line for q in queries if q.line is not None)
    return QueryReport(rows, groups, dict(sorted(lines.items())))


def interpolate(sql: str, params: Any, many: bool = False) -> str:
    """SQL with its parameters written in as literals, for reading only (never executed)."""
    if params is None or many:
        return sql
    try:
        if isinstance(params, dict):
            return sql % {key: _literal(value) for key, value in params.items()}
        return sql % tuple(_literal(value) for value in params)
    except (TypeError, ValueError, KeyError):
        return sql  # placeholders and parameters disagree: show the statement as sent


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, datetime.date | datetime.time):
        value = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value
    text = str(value).replace("'", "''")
    return f"'{text}'"


def gutter(code: str, lines: dict[int, int]) -> Iterable[tuple[int, SafeString, int]]:
    """(line number, highlighted line, queries fired there) for each line of the snippet."""
    for number, html in enumerate(highlight_python_lines(code), 1):
        yield number, html, lines.get(number, 0)
