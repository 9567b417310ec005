"""The plan of one statement, in a run: EXPLAIN on the run's own copy of the dataset, inside the
run's walls and limits like any code, in a transaction that is always rolled back.

SQLite answers EXPLAIN QUERY PLAN, without running the statement. PostgreSQL answers EXPLAIN, or
with `analyze` EXPLAIN (ANALYZE, BUFFERS), which runs the statement so the plan carries real times
and rows: it is stopped after the task's `seconds` (or sooner, if the server's statement_timeout
is shorter). The rows go back as the database gave them; lessons.measure.explain reads them."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connections, transaction

from lessons.engine.contract import Explain, ExplainResult, PlanValue, RunError

QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE when statement_timeout stops a statement


def explain(task: Explain) -> ExplainResult:
    """The plan's rows, or the error that stopped it: "QueryCanceled" when the statement ran past
    its time, "DatabaseError" when the database refused it."""
    connection = connections[task.dataset]
    prefix = (
        connection.ops.explain_query_prefix(analyze=True, buffers=True)
        if task.analyze
        else connection.ops.explain_query_prefix()
    )
    result = ExplainResult(task.dataset)
    try:
        # ANALYZE really runs the statement: its writes (and anything else) are rolled back.
        with transaction.atomic(using=task.dataset), connection.cursor() as cursor:
            if task.analyze:
                result.timeout_ms = _limit_time(cursor, task.seconds)
            cursor.execute(f"{prefix} {task.sql}", task.params)
            result.rows = [[_value(value) for value in row] for row in cursor.fetchall()]
            transaction.set_rollback(True, using=task.dataset)
    except DatabaseError as exc:
        canceled = getattr(exc.__cause__, "sqlstate", None) == QUERY_CANCELED
        result.error = RunError("QueryCanceled" if canceled else "DatabaseError", str(exc), None)
    except (TypeError, ValueError, IndexError) as exc:  # parameters that do not fit the statement
        result.error = RunError(type(exc).__name__, str(exc), None)
    return result


def _limit_time(cursor: Any, seconds: float) -> int:
    """Lower statement_timeout to `seconds` for this transaction only (never raise it past the
    server's); answer the limit in milliseconds."""
    cursor.execute("SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'")
    server_ms = int(cursor.fetchone()[0])  # 0: no limit
    limit_ms = min(ms for ms in (server_ms, max(int(seconds * 1000), 1)) if ms)
    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [str(limit_ms)])
    return limit_ms


def _value(value: Any) -> PlanValue:
    """A value of a plan's row as JSON carries it: text, a number, or null."""
    if value is None or (isinstance(value, str | int | float) and not isinstance(value, bool)):
        return value  # type: ignore[no-any-return]
    return str(value)
