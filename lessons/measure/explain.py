"""Query plans for statements the course captured.

The panel hands the browser a signed token for each statement it shows. EXPLAIN runs only on a
token whose signature checks out, so the browser can ask for the plan of a captured statement but
can never send SQL of its own.

SQLite answers EXPLAIN QUERY PLAN: the steps it would take, without running the statement.
PostgreSQL answers EXPLAIN (ANALYZE, BUFFERS): it runs the statement, so the plan carries real
times, rows and buffers, inside a transaction that is always rolled back. The text PostgreSQL
returns is parsed here into `PlanLine`s; templates/lessons/_plan.html draws them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from lessons import datasets
from lessons.engine import CapturedQuery
from lessons.errors import CourseError

SALT = "lessons.explain"
MAX_AGE = 60 * 60 * 24  # a day: long enough for a lesson, short enough to let old pages lapse
# EXPLAIN ANALYZE runs the statement in the page's own request, outside the run service's pool:
# it may take this long at most (or less, if the server's statement_timeout is shorter).
ANALYZE_SECONDS = 5.0
MISESTIMATE = 10  # a node's actual rows this many times off the planner's estimate is flagged
_EXPLAINABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)
_QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE when statement_timeout stops a statement

# One node of PostgreSQL's text plan, e.g.
# "  ->  Index Scan using blog_post_pkey on blog_post p  (cost=0.28..5.21 rows=1 width=966)
#  (actual time=0.001..0.001 rows=1 loops=4062)"
_NODE = re.compile(
    r"^(?P<indent>\s*(?:->\s+)?)(?P<node>\S.*?)(?P<target>\s+(?:using|on)\s.*?)?"
    r"\s+\(cost=(?P<cost>\S+) rows=(?P<estimated_rows>[\d.]+) width=\d+\)"
    r"(?:\s+\((?P<actual>never executed|actual (?:time=\S+ )?rows=(?P<actual_rows>[\d.]+)"
    r" loops=(?P<loops>\d+))\))?\s*$"
)
_TIME = re.compile(r"^(Planning|Execution) Time: ([\d.]+) ms$")


class PlanRefused(CourseError):
    status = 400


@dataclass(frozen=True)
class PlanLine:
    """One line of a plan: a node (a step such as Seq Scan or Hash Join, with its figures) or a
    detail of the node above it (a condition, Buffers, ...). `indent` keeps the tree's shape."""

    indent: str
    text: str  # a node's target ("on blog_comment"), or the whole of a detail line
    node: str = ""  # the node's name: empty on a detail line
    cost: str = ""  # the planner's estimate of the node's cost, e.g. "0.28..5.21"
    actual: str = ""  # what running it took: "actual time=... rows=... loops=..."
    estimated_rows: float | None = None
    actual_rows: float | None = None  # per loop, as PostgreSQL reports it
    loops: int | None = None

    @property
    def detail_indent(self) -> str:
        """Where this node's details start: under its name, as PostgreSQL indents them."""
        return " " * (len(self.indent) + 2)

    @property
    def misestimate(self) -> int | None:
        """How many times the actual rows were off the estimate, when that is MISESTIMATE or more
        (a sign of stale statistics or a condition the planner cannot judge)."""
        if self.estimated_rows is None or self.actual_rows is None or not self.loops:
            return None
        low, high = sorted((self.estimated_rows, self.actual_rows))
        factor = round(high / max(low, 1))
        return factor if factor >= MISESTIMATE else None


@dataclass(frozen=True)
class Plan:
    dataset: str
    sql: str
    params: list[Any]
    engine: str  # "PostgreSQL", "SQLite"
    analyzed: bool  # the statement was run (and rolled back): the figures are real
    lines: list[PlanLine]
    planning_ms: float | None = None
    execution_ms: float | None = None
    planning_details: list[str] = field(default_factory=list)  # e.g. the planner's Buffers


def explainable(query: CapturedQuery) -> bool:
    return not query.many and bool(_EXPLAINABLE.match(query.sql))


def sign(dataset: str, query: CapturedQuery, *, run_it: bool = True) -> str:
    """A token for this statement's plan. `run_it`: whether the plan may run the statement
    (EXPLAIN ANALYZE on PostgreSQL). Only for the course's own code: a learner's run may report
    any statement it likes, and the web process, outside every wall of the run, would run it."""
    params = query.jsonable_params() or []
    data = {"d": dataset, "s": query.sql, "p": params, "a": run_it}
    return signing.dumps(data, salt=SALT, compress=True)


def explain(token: str) -> Plan:
    try:
        data = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        raise PlanRefused(
            "This plan request did not come from a query the course ran (or it has expired). "
            "Run the snippet again and use its Explain button."
        ) from None
    try:
        dataset, sql, params = str(data["d"]), str(data["s"]), list(data["p"])
    except (TypeError, KeyError):
        raise PlanRefused("This plan request is malformed. Run the snippet again.") from None
    if dataset not in datasets.PAGE_ALIASES or not _EXPLAINABLE.match(sql):
        raise PlanRefused("This plan request is malformed. Run the snippet again.")
    connection = connections[dataset]
    analyze = connection.vendor == "postgresql" and data.get("a") is True
    prefix = (
        connection.ops.explain_query_prefix(analyze=True, buffers=True)
        if analyze
        else connection.ops.explain_query_prefix()
    )
    limit_ms = 0
    try:
        # ANALYZE really runs the statement: its writes (and anything else) are rolled back.
        with transaction.atomic(using=dataset), connection.cursor() as cursor:
            if analyze:
                limit_ms = _limit_time(cursor)
            cursor.execute(f"{prefix} {sql}", params)
            rows = cursor.fetchall()
            transaction.set_rollback(True, using=dataset)
    except DatabaseError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == _QUERY_CANCELED:
            raise PlanRefused(
                f"This statement ran longer than the {limit_ms / 1000:g} s a plan may take, so "
                "PostgreSQL stopped it and rolled it back. EXPLAIN ANALYZE runs the statement to "
                "time it; try the plan on a smaller dataset."
            ) from None
        raise PlanRefused(f"The database could not explain this statement: {exc}") from None
    except (TypeError, ValueError, IndexError) as exc:
        raise PlanRefused(f"The database could not explain this statement: {exc}") from None
    if connection.vendor == "postgresql":
        text = [str(row[0]) for row in rows]
        return _postgresql_plan(dataset, sql, params, connection, text, analyzed=analyze)
    return Plan(dataset, sql, params, connection.display_name, False, _plan_lines(rows))


def _limit_time(cursor: Any) -> int:
    """Lower statement_timeout to ANALYZE_SECONDS for this transaction only (never raise it past
    the server's); answer the limit in milliseconds."""
    cursor.execute("SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'")
    server_ms = int(cursor.fetchone()[0])  # 0: no limit
    limit_ms = min(ms for ms in (server_ms, int(ANALYZE_SECONDS * 1000)) if ms)
    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(limit_ms)])
    return limit_ms


def _plan_lines(rows: list[tuple[Any, ...]]) -> list[PlanLine]:
    # SQLite: (id, parent, unused, detail) rows forming a tree.
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append(PlanLine("  " * depth[node], str(detail)))
    return lines


def _postgresql_plan(
    dataset: str,
    sql: str,
    params: list[Any],
    connection: BaseDatabaseWrapper,
    text: list[str],
    *,
    analyzed: bool,
) -> Plan:
    lines, planning_details, times = parse_postgresql(text)
    return Plan(
        dataset,
        sql,
        params,
        connection.display_name,
        analyzed,
        lines,
        times.get("Planning"),
        times.get("Execution"),
        planning_details,
    )


def parse_postgresql(text: list[str]) -> tuple[list[PlanLine], list[str], dict[str, float]]:
    """PostgreSQL's text plan, one line per row: the tree's lines, the details of its
    "Planning:" section, and the Planning and Execution Time (ms) of its summary."""
    lines: list[PlanLine] = []
    planning: list[str] = []
    times: dict[str, float] = {}
    in_planning = False
    for line in text:
        if in_planning and line.startswith(" "):
            planning.append(line.strip())
            continue
        in_planning = line == "Planning:"
        if in_planning:
            continue
        if timed := _TIME.match(line):
            times[timed[1]] = float(timed[2])
        elif node := _NODE.match(line):
            lines.append(
                PlanLine(
                    indent=node["indent"],
                    text=(node["target"] or "").strip(),
                    node=node["node"],
                    cost=node["cost"],
                    actual=node["actual"] or "",
                    estimated_rows=float(node["estimated_rows"]),
                    actual_rows=_number(node["actual_rows"]),
                    loops=int(node["loops"]) if node["loops"] else None,
                )
            )
        else:
            stripped = line.lstrip()
            lines.append(PlanLine(line[: len(line) - len(stripped)], stripped))
    return lines, planning, times


def _number(value: str | None) -> float | None:
    return float(value) if value is not None else None
