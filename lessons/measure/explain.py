"""Query plans for statements the course captured.

The panel hands the browser a signed token for each statement it shows. EXPLAIN runs only on a
token whose signature checks out, so the browser can ask for the plan of a captured statement but
can never send SQL of its own.

The EXPLAIN itself happens in a run of the run service (lessons.engine.explain), like any code the
course runs: a worker's own copy of the dataset, the same walls, limits and lanes, and a busy
answer when the service is full; the page's request never runs it. SQLite answers EXPLAIN QUERY
PLAN: the steps it would take, without running the statement. PostgreSQL answers EXPLAIN (ANALYZE,
BUFFERS): it runs the statement, so the plan carries real times, rows and buffers, inside a
transaction that is always rolled back. The text PostgreSQL returns is parsed here into
`PlanLine`s; templates/lessons/_plan.html draws them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core import signing
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper

from lessons import datasets, engine
from lessons.engine import CapturedQuery
from lessons.errors import CourseError

SALT = "lessons.explain"
MAX_AGE = 60 * 60 * 24  # a day: long enough for a lesson, short enough to let old pages lapse
# EXPLAIN ANALYZE runs the statement (in a run, within its limits): it may take this long at most
# (or less, if the server's statement_timeout is shorter).
ANALYZE_SECONDS = 5.0
MISESTIMATE = 10  # a node's actual rows this many times off the planner's estimate is flagged
_EXPLAINABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)

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
    any statement it likes, and the plan would run it again on the course's behalf."""
    params = query.jsonable_params() or []
    data = {"d": dataset, "s": query.sql, "p": params, "a": run_it}
    return signing.dumps(data, salt=SALT, compress=True)


def explain(token: str) -> Plan:
    """The plan of the statement a token names, made by the run service: PlanRefused for a token
    the course did not sign or a statement the database cannot explain, Busy when the service
    cannot take it now."""
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
    connection = connections[dataset]  # its settings only: the run opens the connection
    analyze = connection.vendor == "postgresql" and data.get("a") is True
    statement = engine.Explain(dataset, sql, params, analyze=analyze, seconds=ANALYZE_SECONDS)
    return _plan(statement, engine.explain(statement))


MAX_PLANS = 40  # distinct statements one run's plans are made for, at most


def plans_of(
    dataset: str,
    queries: list[CapturedQuery],
    *,
    learner: str | None = None,
    check: bool = False,
) -> list[Plan]:
    """The plans of a run's statements, for checking claims about them: one per distinct SQL text
    (an N+1's thousand lookups share one plan), in the order they were sent, made in one run of
    the service without running them (plain EXPLAIN, never ANALYZE: a learner's run may report
    any statement it likes). A statement the database cannot explain is left out; PlanRefused
    when the run making them fails."""
    seen: set[str] = set()
    statements = []
    for query in queries:
        if explainable(query) and query.sql not in seen and len(seen) < MAX_PLANS:
            seen.add(query.sql)
            params = query.jsonable_params() or []
            statements.append(engine.Explain(dataset, query.sql, params))
    if not statements:
        return []
    results = engine.explain_all(statements, learner=learner, check=check)
    plans = []
    for statement, result in zip(statements, results, strict=True):
        if result.error is not None and result.error.type in _DATABASE_ERRORS:
            continue
        plans.append(_plan(statement, result))
    return plans


def _plan(statement: engine.Explain, result: engine.ExplainResult) -> Plan:
    """The plan a run answered, or PlanRefused saying why there is none."""
    dataset, sql, params = statement.dataset, statement.sql, statement.params
    connection = connections[dataset]
    error = result.error
    if error is not None and error.type == "QueryCanceled":
        raise PlanRefused(
            f"This statement ran longer than the {result.timeout_ms / 1000:g} s a plan may take, "
            "so PostgreSQL stopped it and rolled it back. EXPLAIN ANALYZE runs the statement to "
            "time it; try the plan on a smaller dataset."
        )
    if error is not None and error.type in _DATABASE_ERRORS:
        raise PlanRefused(f"The database could not explain this statement: {error.message}")
    if error is not None:  # the run itself did not finish (a limit, a crash)
        raise PlanRefused(f"The plan could not be made: {error.message}")
    if connection.vendor == "postgresql":
        text = [str(row[0]) for row in result.rows if row]
        return _postgresql_plan(dataset, sql, params, connection, text, analyzed=statement.analyze)
    return Plan(dataset, sql, params, connection.display_name, False, _plan_lines(result.rows))


# How lessons.engine.child.plans names what the database refused.
_DATABASE_ERRORS = ("DatabaseError", "TypeError", "ValueError", "IndexError")


def _plan_lines(rows: list[list[engine.PlanValue]]) -> list[PlanLine]:
    # SQLite: (id, parent, unused, detail) rows forming a tree.
    depth: dict[engine.PlanValue, int] = {0: -1}
    lines = []
    for row in rows:
        if len(row) != 4:
            raise PlanRefused("The database answered a plan the course cannot read.")
        node, parent, _unused, detail = row
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
