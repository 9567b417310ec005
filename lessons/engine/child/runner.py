"""Run one snippet against one dataset, for real, and always roll it back.

The flow: compile with a pseudo file name (so frames can be traced back to snippet lines) and
top-level await; route blog models to the dataset; open a transaction on its connection; record
every statement through `execute_wrapper`; give the snippet its own bounded `print`; roll back in
every case. Errors come back in the result, never as exceptions.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import inspect
import threading
import tracemalloc
from collections.abc import Callable
from time import perf_counter
from types import CodeType, TracebackType
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connections, models, transaction
from django.db.models import functions
from django.utils import timezone

from blog.models import Author, Category, Comment, Post, Profile, Tag
from lessons import datasets
from lessons.datasets import guards
from lessons.engine.child import integrity
from lessons.engine.child.atomic import TableSnapshots
from lessons.engine.child.capture import BoundedOutput, QueryRecorder, count_instances
from lessons.engine.contract import RunError, RunResult

PSEUDO_FILENAME = "<snippet>"

# What every snippet can use without importing it.
SNIPPET_GLOBALS: dict[str, Any] = {
    "Author": Author, "Profile": Profile, "Category": Category, "Tag": Tag,
    "Post": Post, "Comment": Comment,
    "Q": models.Q, "F": models.F, "Value": models.Value, "Count": models.Count,
    "Sum": models.Sum, "Avg": models.Avg, "Max": models.Max, "Min": models.Min,
    "Exists": models.Exists, "OuterRef": models.OuterRef, "Subquery": models.Subquery,
    "Prefetch": models.Prefetch, "Case": models.Case, "When": models.When,
    "Length": functions.Length, "Lower": functions.Lower, "Coalesce": functions.Coalesce,
    "timezone": timezone,
}  # fmt: skip


class DatasetTransaction:
    """`django.db.transaction` as a snippet sees it. In a single-database project a plain
    `transaction.atomic()` covers the models; here the models live in the run's dataset, so every
    function's `using` defaults to that dataset instead of `default`."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def atomic(self, using: Any = None, savepoint: bool = True, durable: bool = False) -> Any:
        if callable(using):  # used as a bare @transaction.atomic decorator
            return transaction.atomic(self.alias)(using)
        return transaction.atomic(using or self.alias, savepoint, durable)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(transaction, name)
        if not callable(attribute) or "using" not in inspect.signature(attribute).parameters:
            return attribute

        def with_dataset(*args: Any, using: str | None = None, **kwargs: Any) -> Any:
            return attribute(*args, using=using or self.alias, **kwargs)

        return with_dataset


_memory_lock = threading.Lock()


def run_code(
    code: str,
    dataset: str,
    *,
    measure_memory: bool = False,
    max_statements: int | None = None,
    fail_on_write: int | None = None,
    cost_model: bool = True,
) -> RunResult:
    """Execute `code` on `dataset` and report what it did. Nothing it writes persists.

    With measure_memory, the peak Python memory allocated during the run is recorded too
    (tracemalloc slows execution, so lessons ask for it only where memory is the point).
    With fail_on_write, that write fails and the result says what the earlier ones left.
    Without cost_model (benchmarks/ only, to price it), no rows are counted, no objects watched
    alive and no witness checks the count."""
    datasets.get_spec(dataset)  # UnknownDataset before anything else happens
    result = RunResult(dataset=dataset)
    try:
        compiled = compile(
            code, PSEUDO_FILENAME, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
    except SyntaxError as exc:
        result.error = RunError("SyntaxError", exc.msg, exc.lineno)
        return result
    except (UnicodeError, ValueError) as exc:  # lone surrogates, null bytes
        result.error = RunError("SyntaxError", f"The code is not valid text: {exc}", None)
        return result

    output = BoundedOutput()
    snapshots = TableSnapshots() if fail_on_write else None
    recorder = QueryRecorder(
        PSEUDO_FILENAME,
        max_statements,
        fail_on_write=fail_on_write,
        before_first_write=snapshots.take if snapshots else None,
    )
    recorder.count_rows = cost_model
    recorded = recorder.queries  # the list the run must leave in place
    connection = connections[dataset]
    namespace = {
        **SNIPPET_GLOBALS,
        "__name__": "__snippet__",
        "__builtins__": builtins,
        "print": output.print,
        "connection": connection,
        "transaction": DatasetTransaction(dataset),
        "another_worker": functools.partial(another_worker, dataset, recorder),
    }
    with (
        # tracemalloc is process-wide: memory-measured runs take turns, before the clock starts.
        _memory_lock if measure_memory else contextlib.nullcontext(),
        datasets.use_dataset(dataset),
        count_instances(watch=cost_model) as instances,
        transaction.atomic(using=dataset),
    ):
        witness: integrity.Witness | None = None
        started = perf_counter()
        try:
            with guards.sandbox(connection), connection.execute_wrapper(recorder):
                witness = integrity.Witness(connection) if cost_model else None
                if witness is not None:
                    recorder.tally_rows = witness.tally
                try:
                    if measure_memory:
                        result.peak_memory = _execute_measuring_memory(
                            compiled, namespace, recorder
                        )
                    else:
                        _execute(compiled, namespace, recorder)
                finally:
                    result.duration = perf_counter() - started
                    # Before the wrapper is taken off: is the recorder still the one counting?
                    result.integrity = integrity.problems(
                        connection,
                        recorder,
                        recorded,
                        witness,
                        own_reads=len(snapshots.before) if snapshots else 0,
                        fail_on_write=fail_on_write,
                    )
        except (Exception, SystemExit) as exc:
            result.error = _error_from(exc)
        finally:
            if snapshots is not None and fail_on_write is not None:
                result.atomic = snapshots.probe(connection, fail_on_write, recorder.failed_write)
            if witness is not None:
                witness.close()
            # The whole point: whatever the snippet did, none of it is kept.
            transaction.set_rollback(True, using=dataset)
    result.queries = recorded
    result.first_statement_at = recorder.first_statement_at
    result.output = output.text
    result.output_dropped = output.dropped
    result.objects_built = dict(instances.built)
    result.objects_alive_peak = instances.peak
    return result


# How long a second worker waits for a row lock before giving up, so a demo that blocks it ends.
WORKER_LOCK_TIMEOUT = "1s"


def another_worker(dataset: str, recorder: QueryRecorder, work: Callable[[], Any]) -> Any:
    """Call `work` as a second worker would: on a thread of its own, so on a connection of its own
    to the same dataset, in a transaction of its own that is rolled back. Its statements are
    recorded with the snippet's. Returns what `work` returns, or raises what it raised.

    The snippet waits for it, so row locks the snippet holds are still held: on PostgreSQL the
    second worker skips them (skip_locked), is refused (nowait), or waits WORKER_LOCK_TIMEOUT."""
    outcome: dict[str, Any] = {}

    def second_worker() -> None:
        connection = connections[dataset]  # a thread has connections of its own
        try:
            with datasets.use_dataset(dataset), transaction.atomic(using=dataset):
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(f"SET LOCAL lock_timeout = '{WORKER_LOCK_TIMEOUT}'")
                try:
                    with guards.sandbox(connection), connection.execute_wrapper(recorder):
                        outcome["value"] = work()
                finally:
                    transaction.set_rollback(True, using=dataset)
        except BaseException as exc:  # handed to the snippet, which decides what to do with it
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=second_worker, name="another-worker", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def _execute(compiled: CodeType, namespace: dict[str, Any], recorder: QueryRecorder) -> None:
    if not compiled.co_flags & inspect.CO_COROUTINE:
        exec(compiled, namespace)  # snippets are the course's own lesson code
        return
    coroutine = eval(compiled, namespace)  # top-level await makes this a coroutine
    recorder.coroutine = coroutine

    async def drive() -> None:
        await coroutine

    # async_to_sync runs the loop in another thread and brings the ORM's thread-sensitive work
    # back to this one, so queries use this connection: captured, and inside the transaction.
    async_to_sync(drive)()


def _execute_measuring_memory(
    compiled: CodeType, namespace: dict[str, Any], recorder: QueryRecorder
) -> int:
    tracemalloc.start()
    try:
        _execute(compiled, namespace, recorder)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _error_from(exc: BaseException) -> RunError:
    return RunError(type(exc).__name__, str(exc), _snippet_line(exc.__traceback__))


def _snippet_line(tb: TracebackType | None) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == PSEUDO_FILENAME:
            line = tb.tb_lineno  # the deepest snippet frame is where it went wrong
        tb = tb.tb_next
    return line
