"""Query plans for statements the course captured.

The panel hands the browser a signed token for each statement it shows. EXPLAIN runs only on a
token whose signature checks out, so the browser can ask for the plan of a captured statement but
can never send SQL of its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import DatabaseError, connections, transaction

from blog import datasets
from course.errors import CourseError
from lessons.engine.capture import CapturedQuery

SALT = "lessons.explain"
MAX_AGE = 60 * 60 * 24  # a day: long enough for a lesson, short enough to let old pages lapse
_EXPLAINABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


class PlanRefused(CourseError):
    status = 400


@dataclass(frozen=True)
class Plan:
    dataset: str
    sql: str
    params: list[Any]
    lines: list[str]


def explainable(query: CapturedQuery) -> bool:
    return not query.many and bool(_EXPLAINABLE.match(query.sql))


def sign(dataset: str, query: CapturedQuery) -> str:
    params = query.jsonable_params() or []
    return signing.dumps({"d": dataset, "s": query.sql, "p": params}, salt=SALT, compress=True)


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
    if dataset not in datasets.SPECS or not _EXPLAINABLE.match(sql):
        raise PlanRefused("This plan request is malformed. Run the snippet again.")
    connection = connections[dataset]
    prefix = connection.ops.explain_query_prefix()
    try:
        # EXPLAIN does not run the statement, but a rolled-back transaction costs nothing.
        with transaction.atomic(using=dataset), connection.cursor() as cursor:
            cursor.execute(f"{prefix} {sql}", params)
            rows = cursor.fetchall()
            transaction.set_rollback(True, using=dataset)
    except (DatabaseError, TypeError, ValueError, IndexError) as exc:
        raise PlanRefused(f"The database could not explain this statement: {exc}") from None
    return Plan(dataset, sql, params, _plan_lines(connection.vendor, rows))


def _plan_lines(vendor: str, rows: list[tuple[Any, ...]]) -> list[str]:
    if vendor != "sqlite":
        return [str(row[0]) for row in rows]
    # SQLite: (id, parent, unused, detail) rows forming a tree.
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines
