"""Presentation of a run: SQL formatting and highlighting, similar/duplicate grouping, per-line
counts for the code gutter. It reads what a run recorded (`lessons.engine.CapturedQuery`), never a
database.

Grouping follows django-debug-toolbar's idea: *similar* queries share their SQL text, *duplicate*
queries share SQL text and parameters. Every row says how many statements are similar to it; a
group is *flagged* only for the pattern the course teaches:

- an **N+1**: one read (SELECT) sent at least REPEATS_FLAGGED times from the same snippet line
  with varying parameters, the shape of a query per row of an earlier result or per item of a
  loop;
- a **bulk candidate**: the same for a write (INSERT, UPDATE, DELETE), which bulk_create(),
  bulk_update() or update() would send once per batch.

A repetition smaller than that (two INSERTs in a loop, three hand-written lookups) stays similar
and unflagged, and transaction control (SAVEPOINT, RELEASE, ROLLBACK...) is never flagged.

A run decides what its statements are, so the work a page does on them is bounded. Pygments takes
up to 5 µs a character of SQL; sqlparse's reindenting up to 100 µs a character, growing with the
square of a list's length (highlight.REINDENT_LIMIT). A page draws at most SHOWN_QUERIES statements
and SHOWN_GROUPS groups of each kind, highlights at most HIGHLIGHTED_CHARS of one statement and
REPORT_HIGHLIGHTED_CHARS in all, and reindents at most REPORT_REINDENTED_CHARS: past the first
bounds a statement is shown as sent, cut, plain, with a line saying so; past the last, highlighted
as sent. About half a second of the worst SQL in all.
"""

from __future__ import annotations

import datetime
import decimal
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from lessons.display.highlight import (
    REINDENT_LIMIT,
    format_sql,
    highlight_python_lines,
    highlight_sql,
)
from lessons.engine import CapturedQuery

SHOWN_QUERIES = 50  # the panel lists this many statements; the JSON API returns all of them
SHOWN_GROUPS = 10  # the panel draws this many groups of each kind (N+1, bulk, duplicate)
# A loop over a handful of hand-picked values (three search words, three titles) is not a read per
# row of the data: a line must repeat a statement at least this often to be flagged.
REPEATS_FLAGGED = 4
READS = frozenset({"SELECT", "WITH"})
WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})
HIGHLIGHTED_CHARS = 10_000  # a longer statement is shown as sent, cut here, plain
REPORT_HIGHLIGHTED_CHARS = 40_000  # about 0.2 s of the worst SQL
REPORT_REINDENTED_CHARS = 3_000  # about 0.3 s of the worst SQL; each text counts once


def similar_key(query: CapturedQuery) -> str:
    return query.sql


def duplicate_key(query: CapturedQuery) -> tuple[str, str]:
    return query.sql, repr(query.params)


def statement_kind(sql: str) -> str:
    """What a statement does, from its first word: a read, a write, or anything else
    (transaction control, PRAGMA, EXPLAIN), which is never flagged."""
    words = sql.lstrip(" \t\n(").split(None, 1)
    first = words[0].upper() if words else ""
    if first in READS:
        return "read"
    if first in WRITES:
        return "write"
    return "other"


@dataclass(frozen=True)
class QueryRow:
    index: int
    query: CapturedQuery
    similar: int  # how many statements share this SQL text (1 = unique)
    duplicate: int  # how many share SQL text and parameters
    unformatted: str | None = None  # why it is shown as sent, plain; None: highlighted
    reindented: bool = True  # highlighted as sent when False

    @property
    def duration_ms(self) -> float:
        return self.query.duration * 1000

    @property
    def html(self) -> SafeString:
        query = self.query
        if self.unformatted is not None:
            return plain_sql(query.sql, self.unformatted)
        sql = format_sql(query.sql) if self.reindented else query.sql
        return highlight_sql(interpolate(sql, query.params, query.many), True)


@dataclass(frozen=True)
class StatementGroup:
    """Statements that share their SQL text."""

    sql: str
    count: int
    distinct_params: int
    lines: tuple[int, ...]
    duration_ms: float
    most_from_one_line: int = 1  # the most of these statements one snippet line sent
    unformatted: str | None = None  # why it is shown as sent, plain; None: highlighted
    reindented: bool = True  # highlighted as sent when False

    @property
    def kind(self) -> str:
        return statement_kind(self.sql)

    @property
    def repeats_per_row(self) -> bool:
        """One line sent it often enough, with parameters that vary: once per row or item."""
        return self.distinct_params > 1 and self.most_from_one_line >= REPEATS_FLAGGED

    @property
    def is_n_plus_one(self) -> bool:
        return self.kind == "read" and self.repeats_per_row

    @property
    def is_bulk_candidate(self) -> bool:
        return self.kind == "write" and self.repeats_per_row

    @property
    def is_flagged(self) -> bool:
        return self.is_n_plus_one or self.is_bulk_candidate or self.has_duplicates

    @property
    def has_duplicates(self) -> bool:
        return self.distinct_params < self.count

    @property
    def html(self) -> SafeString:
        if self.unformatted is not None:
            return plain_sql(self.sql, self.unformatted)
        return highlight_sql(format_sql(self.sql) if self.reindented else self.sql, True)


@dataclass(frozen=True)
class ListedStatement:
    """One entry of the panel's SQL list, as the debug toolbar groups them: a statement and the
    statements similar to it (the same SQL text), folded under their first."""

    rows: tuple[QueryRow, ...]  # the instances the panel draws, in the order they were sent
    group: StatementGroup | None  # every instance, when the statement was sent more than once

    @property
    def first(self) -> QueryRow:
        return self.rows[0]

    @property
    def count(self) -> int:
        return self.group.count if self.group else 1

    @property
    def lines(self) -> tuple[int, ...]:
        if self.group:
            return self.group.lines
        return (self.first.query.line,) if self.first.query.line is not None else ()

    @property
    def duration_ms(self) -> float:
        return self.group.duration_ms if self.group else self.first.duration_ms

    @property
    def undrawn(self) -> int:
        """Instances past the panel's limit: the JSON API has them."""
        return self.count - len(self.rows)


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
    def listed(self) -> list[ListedStatement]:
        """The drawn statements, one entry per SQL text in the order each was first sent."""
        groups = {g.sql: g for g in self.groups}
        by_sql: dict[str, list[QueryRow]] = {}
        for row in self.shown_rows:
            by_sql.setdefault(row.query.sql, []).append(row)
        return [ListedStatement(tuple(rows), groups.get(sql)) for sql, rows in by_sql.items()]

    @property
    def hidden_statements(self) -> int:
        """Statements of texts the list never reached (past SHOWN_QUERIES, not similar to one
        it drew)."""
        drawn = {row.query.sql for row in self.shown_rows}
        return sum(1 for row in self.rows[SHOWN_QUERIES:] if row.query.sql not in drawn)

    @property
    def n_plus_one(self) -> list[StatementGroup]:
        return [g for g in self.groups if g.is_n_plus_one]

    @property
    def bulk_candidates(self) -> list[StatementGroup]:
        return [g for g in self.groups if g.is_bulk_candidate]

    @property
    def duplicated(self) -> list[StatementGroup]:
        return [g for g in self.groups if g.has_duplicates]

    @property
    def shown_n_plus_one(self) -> list[StatementGroup]:
        return self.n_plus_one[:SHOWN_GROUPS]

    @property
    def shown_bulk_candidates(self) -> list[StatementGroup]:
        return self.bulk_candidates[:SHOWN_GROUPS]

    @property
    def shown_duplicated(self) -> list[StatementGroup]:
        return self.duplicated[:SHOWN_GROUPS]

    @property
    def shown_groups(self) -> list[StatementGroup]:
        """Every group the panel draws, in its order (a group may be drawn twice)."""
        return [*self.shown_n_plus_one, *self.shown_bulk_candidates, *self.shown_duplicated]

    @property
    def hidden_groups(self) -> int:
        shown = {id(g) for g in self.shown_groups}
        return sum(1 for g in self.groups if g.is_flagged and id(g) not in shown)


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
            most_from_one_line=max(Counter(q.line for q in members).values()),
        )
        for sql, members in by_sql.items()
        if len(members) > 1
    ]
    groups.sort(key=lambda g: -g.count)
    lines = Counter(q.line for q in queries if q.line is not None)
    return _within_budget(QueryReport(rows, groups, dict(sorted(lines.items()))))


def _within_budget(report: QueryReport) -> QueryReport:
    """How each statement the panel draws is shown, decided in the order it draws them (the
    flagged groups, then the first statements) until the budget is spent."""
    budget = _Budget()
    decided: dict[int, StatementGroup] = {}
    for group in report.shown_groups:  # an N+1 may have duplicates too: drawn twice, counted once
        if id(group) not in decided:
            decided[id(group)] = replace(group, **budget.spend(group.sql, group.sql))
    groups = [decided.get(id(g), g) for g in report.groups]
    shown = [
        replace(row, **budget.spend(row.query.sql, _interpolated(row.query)))
        for row in report.shown_rows
    ]
    return QueryReport([*shown, *report.rows[len(shown) :]], groups, report.lines)


class _Budget:
    """The characters of SQL one report may still highlight, and reindent (once per text:
    format_sql keeps what it did)."""

    def __init__(self) -> None:
        self.highlight = REPORT_HIGHLIGHTED_CHARS
        self.reindent = REPORT_REINDENTED_CHARS
        self.reindented: set[str] = set()

    def spend(self, sql: str, text: str) -> dict[str, Any]:
        """How `text` (`sql` with its parameters written in) is shown: `unformatted` (why it is
        shown plain) and `reindented`, as fields of a row or a group."""
        if len(text) > HIGHLIGHTED_CHARS:
            return _plain(f"longer than {HIGHLIGHTED_CHARS:,} characters")
        if len(text) > self.highlight:
            return _plain(
                f"a page highlights at most {REPORT_HIGHLIGHTED_CHARS:,} characters of SQL"
            )
        self.highlight -= len(text)
        if sql not in self.reindented:
            if len(sql) > REINDENT_LIMIT or len(sql) > self.reindent:
                return {"unformatted": None, "reindented": False}
            self.reindent -= len(sql)
            self.reindented.add(sql)
        return {"unformatted": None, "reindented": True}


def _plain(why: str) -> dict[str, Any]:
    return {"unformatted": f"Shown as sent, not highlighted: {why}.", "reindented": False}


def _interpolated(query: CapturedQuery) -> str:
    if len(query.sql) > HIGHLIGHTED_CHARS:
        return query.sql  # too long already, however its parameters read
    return interpolate(query.sql, query.params, query.many)


def plain_sql(sql: str, why: str) -> SafeString:
    """A statement as sent, cut at HIGHLIGHTED_CHARS, escaped, then an SQL comment saying why."""
    text = str(escape(sql[:HIGHLIGHTED_CHARS]))
    if len(sql) > HIGHLIGHTED_CHARS:
        text += f"… ({len(sql) - HIGHLIGHTED_CHARS:,} more characters not shown)"
    return mark_safe(f'{text}\n<span class="hl-c1">-- {escape(why)}</span>')  # escaped above


def interpolate(sql: str, params: Any, many: bool = False) -> str:
    """SQL with its parameters written in as literals, for reading only (never executed)."""
    if params is None or many:
        return sql
    if len(params) > len(sql) // 2:  # more than the text has room for placeholders
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
