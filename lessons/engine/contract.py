"""The engine's contract: what the server asks of a run, and what a run answers.

The server's side (lessons.engine.service) puts the tasks of one run in a `Job`: code to run
(`Task`) or a statement to explain (`Explain`), with the run's `Limits` and the `WallPlan` of its
walls. The run's side (lessons.engine.child) answers each task with a result: a `RunResult` for
code, an `ExplainResult` for a statement. Both sides import these types from here and nothing else
of each other.

A result crosses from the run to the server as JSON, field by name: `encode_result` writes it in
the run, `decode_result` reads it back in the server. The run is a learner's code, and once it has
switched the audit hook off it can write anything, so `decode_result` believes none of it: every
field must have the type and range `encode_result` gives it (else `Malformed`), and every size is
capped again here whatever the run says it did: at most `limits.max_statements` statements per
result, each statement's text and parameters, the output, the error, the counts of objects built,
the rows of a plan. What is cut is said in words, in the result's `truncated`.

The messages on a run's channel are JSON objects with a "kind" (lessons.engine.reply reads them,
bounded, before anything here looks inside):

- {"kind": "backends", "pids": {alias: [pid, ...]}}: first, on PostgreSQL, before any of the
  run's code: the server-side pids of the only connections the run has;
- {"kind": "ok", "results": [result, ...]}: one `encode_result` per task, in order;
- {"kind": "crash", "message": text}: the run could not finish;
- {"kind": "signal", "signal": number, "cpu": seconds} or {"kind": "exit", "code": number}: how
  the run's process ended, said by its watcher.
"""

from __future__ import annotations

import math
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, overload

# The kernel's walls a run may get (lessons.engine.child.confine builds them).
WALLS = ("namespaces", "network", "user", "landlock", "seccomp")
DEFAULT_RUN_UID = 1_640_000  # the first of the run user ids: no account needed, none uses them


# What the server asks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    memory_mb: int = 512
    wall_seconds: float = 10.0
    max_statements: int = 20_000
    max_code_chars: int = 20_000
    scratch_mb: int = 256  # the scratch folder's size, dataset copies included

    def scaled(self, factor: int) -> Limits:
        """More room for the course's own snippets, which must finish on the large dataset."""
        return replace(
            self,
            cpu_seconds=self.cpu_seconds * factor,
            memory_mb=self.memory_mb * factor,
            wall_seconds=self.wall_seconds * factor,
        )


@dataclass(frozen=True)
class Task:
    """Code to run on a dataset, recorded and rolled back."""

    code: str
    dataset: str
    measure_memory: bool = False
    # An exercise's atomic probe: the run's Nth write (INSERT, UPDATE or DELETE) fails as if the
    # database refused it, and the run reports what the code's earlier writes left behind.
    fail_on_write: int | None = None


@dataclass(frozen=True)
class Explain:
    """The plan of one statement on a dataset: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
    PostgreSQL, or EXPLAIN (ANALYZE, BUFFERS) there with `analyze`, which runs the statement (rolled
    back) and stops it after `seconds` at most."""

    dataset: str
    sql: str
    params: list[Any]
    analyze: bool = False
    seconds: float = 5.0


@dataclass(frozen=True)
class WallPlan:
    """What the walls of one run are made of; the service fills it in, the run builds it."""

    scratch: str  # the one folder a run may write in (a capped tmpfs where namespaces are up)
    hidden: tuple[str, ...] = ()  # folders the run must not see at all (var/)
    keep: tuple[str, ...] = ()  # folders a run reads even inside a hidden home (the checkout)
    walls: frozenset[str] = frozenset(WALLS)
    scratch_mb: int = 256
    run_uid: int = DEFAULT_RUN_UID
    run_gid: int = DEFAULT_RUN_UID
    copies: dict[str, str] = field(default_factory=dict)  # template -> file name in scratch


@dataclass(frozen=True)
class Job:
    """Everything one run does, its tasks one after the other in one process."""

    tasks: tuple[Task | Explain, ...]
    limits: Limits
    dataset_files: dict[str, str]  # dataset alias -> this run's own copy, inside scratch
    plan: WallPlan  # its walls: scratch, hidden folders, the dataset copies to make

    @property
    def scratch(self) -> str:  # the one directory a run may write files in
        return self.plan.scratch


def run_tag(scratch: str) -> str:
    """The name a run's PostgreSQL connections give the server (application_name), so the service
    can end what a run it killed left running there."""
    return f"course-run-{Path(scratch).name}"


def run_folders() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The folders every run must not see and those it reads even inside a hidden home (the
    checkout). Hidden: var/ as configured (and the checkout's own var/ if that is another
    folder), and the lessons with their exercises' solutions, in the files and in git's history
    of them: a run is a learner's code, which must not read the answers it is checked against."""
    from django.conf import settings

    base = Path(settings.BASE_DIR)
    hidden = {settings.VAR_DIR, base / "var", base / "lessons" / "content", base / ".git"}
    return tuple(sorted(map(str, hidden))), (str(base),)


# What a run answers -----------------------------------------------------------------------------


@dataclass(slots=True)
class CapturedQuery:
    sql: str
    params: Sequence[Any] | None
    many: bool
    duration: float  # seconds
    line: int | None  # the snippet line that fired it
    rows: int = 0  # rows the code fetched from what the statement returned

    def jsonable_params(self) -> Any:
        """The parameters as JSON can carry them: dates, decimals and the like as text."""
        return _jsonable(self.params)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return str(value)


@dataclass(frozen=True)
class RunError:
    type: str
    message: str
    line: int | None


@dataclass(frozen=True)
class AtomicProbe:
    """What an atomic probe found: whether the Nth write was reached (and failed), and how many
    rows the code's earlier writes left changed once the code had ended."""

    fail_on_write: int
    reached: bool
    rows_left: int
    tables: tuple[str, ...]  # the tables where rows were left changed


@dataclass(frozen=True)
class Sharing:
    """How one execution of the course's own code served identical presses: the learners it
    served so far (this one included), when it ended (time.time()), and whether this press made
    it run (lessons.engine.sharing)."""

    learners: int
    ran_at: float
    led: bool
    run: str = ""  # names the execution: the same for every press it served

    @property
    def with_others(self) -> bool:
        return self.learners > 1 or not self.led


@dataclass
class RunResult:
    dataset: str
    queries: list[CapturedQuery] = field(default_factory=list)
    duration: float = 0.0  # seconds spent executing the snippet
    output: str = ""
    output_dropped: int = 0  # printed lines beyond the output bound
    objects_built: dict[str, int] = field(default_factory=dict)
    peak_memory: int | None = None  # bytes of Python memory, when the task asks (tracemalloc)
    objects_alive_peak: int = 0  # the most model instances alive at once
    error: RunError | None = None
    first_statement_at: float | None = None  # wall-clock time of the first statement
    queued: float = 0.0  # seconds spent waiting for a free worker before the run started
    # The most memory the run's process held above what it started with, in bytes, as the kernel
    # counted it (its peak resident set): for the whole process, every task of the run included.
    process_peak_memory: int | None = None
    # What the run found wrong with its own measuring after the code ended (the recorder removed,
    # statements that did not pass through it): a count that cannot be trusted.
    integrity: list[str] = field(default_factory=list)
    atomic: AtomicProbe | None = None
    # What the web process cut from the run's reply to keep it bounded, said for the learner;
    # empty when everything the run sent was kept.
    truncated: list[str] = field(default_factory=list)
    # Set by the service when the run was shared with other presses (lessons.engine.sharing).
    shared: Sharing | None = None
    # Where the whole run's time went, step by step, in seconds (the service's account:
    # lessons.engine.service.PHASES); the same for every task of one run.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def query_count(self) -> int:
        return len(self.queries)

    @property
    def objects_built_total(self) -> int:
        return sum(self.objects_built.values())

    @property
    def rows_fetched(self) -> int:
        return sum(query.rows for query in self.queries)


PlanValue = str | int | float | None


@dataclass
class ExplainResult:
    """The rows the database answered for an `Explain`, as it gave them (SQLite: id, parent,
    unused, detail; PostgreSQL: one line of text each), or the error that stopped it.
    `timeout_ms`: the statement timeout an ANALYZE ran under (0 when nothing ran)."""

    dataset: str
    rows: list[list[PlanValue]] = field(default_factory=list)
    error: RunError | None = None
    timeout_ms: int = 0
    queued: float = 0.0
    truncated: list[str] = field(default_factory=list)


Result = RunResult | ExplainResult


# The codec --------------------------------------------------------------------------------------

MAX_SQL_CHARS = 100_000  # per statement; an IN list of 5,000 ids is about 30,000
MAX_PARAMS_SIZE = 100_000  # per statement: characters of text, plus one per other value
MAX_OUTPUT_CHARS = 128_000  # above the run's own bound on printing (200 lines of 500 characters)
MAX_ERROR_CHARS = 10_000
MAX_NAME_CHARS = 200  # an error's type, a model's name
MAX_MODELS = 100  # kinds of objects counted as built
MAX_PLAN_ROWS = 10_000  # a plan of the largest statement a lesson runs has a few dozen
MAX_PLAN_COLUMNS = 8  # SQLite's plan rows have 4 values, PostgreSQL's 1
MAX_PLAN_TEXT = 10_000  # per value of a plan row
MAX_COUNT = 2**63  # any count, size, line number or time a run reports is below this

_RESULT_FIELDS = (
    "dataset",
    "queries",
    "duration",
    "output",
    "output_dropped",
    "objects_built",
    "peak_memory",
    "objects_alive_peak",
    "error",
    "first_statement_at",
    "integrity",
    "atomic",
)
_QUERY_FIELDS = ("sql", "params", "many", "duration", "line", "rows")
_ATOMIC_FIELDS = ("fail_on_write", "reached", "rows_left", "tables")
MAX_INTEGRITY = 10  # problems a run reports about its own measuring
MAX_TABLES = 50
_ERROR_FIELDS = ("type", "message", "line")
_PLAN_FIELDS = ("dataset", "rows", "error", "timeout_ms")


class Malformed(ValueError):
    """The reply is not something the run's own encoder makes."""


def encode_result(result: Result) -> dict[str, Any]:
    """A result as JSON carries it, in the run. Texts longer than the server keeps are cut here
    already, one character past its cap so that the server still says what it cut: a few huge
    statements must not push an honest reply past the reply's size cap."""
    if isinstance(result, ExplainResult):
        return {
            "dataset": result.dataset,
            "rows": [
                [_cut_for_reply(value, MAX_PLAN_TEXT) for value in row] for row in result.rows
            ],
            "error": _encode_error(result.error),
            "timeout_ms": result.timeout_ms,
        }
    return {
        "dataset": result.dataset,
        "queries": [
            {
                "sql": query.sql[: MAX_SQL_CHARS + 1],
                "params": query.jsonable_params(),
                "many": query.many,
                "duration": query.duration,
                "line": query.line,
                "rows": query.rows,
            }
            for query in result.queries
        ],
        "duration": result.duration,
        "output": result.output,
        "output_dropped": result.output_dropped,
        "objects_built": result.objects_built,
        "peak_memory": result.peak_memory,
        "objects_alive_peak": result.objects_alive_peak,
        "error": _encode_error(result.error),
        "first_statement_at": result.first_statement_at,
        "integrity": [problem[: MAX_ERROR_CHARS + 1] for problem in result.integrity],
        "atomic": None
        if result.atomic is None
        else {
            "fail_on_write": result.atomic.fail_on_write,
            "reached": result.atomic.reached,
            "rows_left": result.atomic.rows_left,
            "tables": list(result.atomic.tables),
        },
    }


def _encode_error(error: RunError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"type": error.type, "message": error.message[: MAX_ERROR_CHARS + 1], "line": error.line}


def _cut_for_reply(value: PlanValue, limit: int) -> PlanValue:
    return value[: limit + 1] if isinstance(value, str) else value


def decode_results(
    message: dict[str, Any], tasks: Sequence[Task | Explain], limits: Limits
) -> list[Result]:
    """The results of an "ok" message, one per task, each checked and bounded. Malformed when
    anything in them is not what `encode_result` makes."""
    data = message.get("results")
    if not isinstance(data, list) or len(data) != len(tasks):
        raise Malformed("one result per task")
    return [decode_result(item, task, limits) for item, task in zip(data, tasks, strict=True)]


@overload
def decode_result(data: Any, task: Task, limits: Limits) -> RunResult: ...
@overload
def decode_result(data: Any, task: Explain, limits: Limits) -> ExplainResult: ...
@overload
def decode_result(data: Any, task: Task | Explain, limits: Limits) -> Result: ...


def decode_result(data: Any, task: Task | Explain, limits: Limits) -> Result:
    """The result of `task` from what the run sent, in the server: checked, and bounded."""
    if isinstance(task, Explain):
        return _decode_plan(data, task)
    _fields(data, _RESULT_FIELDS, "a result")
    if data["dataset"] != task.dataset:
        raise Malformed("a result for another dataset")
    notes: list[str] = []
    queries = _queries(_of(data["queries"], list), limits.max_statements, notes)
    output = _of(data["output"], str)
    if len(output) > MAX_OUTPUT_CHARS:
        output = output[:MAX_OUTPUT_CHARS]
        notes.append(
            f"The output was longer than {MAX_OUTPUT_CHARS:,} characters: the rest was not kept."
        )
    return RunResult(
        dataset=task.dataset,
        queries=queries,
        duration=_seconds(data["duration"]),
        output=output,
        output_dropped=_count(data["output_dropped"]),
        objects_built=_objects_built(_of(data["objects_built"], dict), notes),
        peak_memory=None if data["peak_memory"] is None else _count(data["peak_memory"]),
        objects_alive_peak=_count(data["objects_alive_peak"]),
        error=_error(data["error"]),
        first_statement_at=(
            None if data["first_statement_at"] is None else _seconds(data["first_statement_at"])
        ),
        integrity=_integrity(_of(data["integrity"], list)),
        atomic=_atomic(data["atomic"], task),
        truncated=notes,
    )


def _integrity(data: list[Any]) -> list[str]:
    problems = [cut(_of(item, str), MAX_ERROR_CHARS) for item in data[:MAX_INTEGRITY]]
    if len(data) > MAX_INTEGRITY:
        problems.append(f"{len(data) - MAX_INTEGRITY:,} more problems were not kept.")
    return problems


def _atomic(data: Any, task: Task) -> AtomicProbe | None:
    if data is None:
        return None
    _fields(data, _ATOMIC_FIELDS, "an atomic probe")
    if task.fail_on_write is None or data["fail_on_write"] != task.fail_on_write:
        raise Malformed("an atomic probe the task did not ask for")
    tables = _of(data["tables"], list)
    if len(tables) > MAX_TABLES:
        raise Malformed(f"at most {MAX_TABLES} tables")
    return AtomicProbe(
        fail_on_write=task.fail_on_write,
        reached=_of(data["reached"], bool),
        rows_left=_count(data["rows_left"]),
        tables=tuple(cut(_of(name, str), MAX_NAME_CHARS) for name in tables),
    )


def _fields(data: Any, names: tuple[str, ...], what: str) -> None:
    """`data` is a JSON object with exactly the fields `names`, as the encoder writes it."""
    if not isinstance(data, dict) or data.keys() != set(names):
        raise Malformed(f"{what} has the fields {', '.join(names)}")


def _error(data: Any) -> RunError | None:
    if data is None:
        return None
    _fields(data, _ERROR_FIELDS, "an error")
    return RunError(
        cut(_of(data["type"], str), MAX_NAME_CHARS),
        cut(_of(data["message"], str), MAX_ERROR_CHARS),
        _line(data["line"]),
    )


def _queries(data: list[Any], max_statements: int, notes: list[str]) -> list[CapturedQuery]:
    # The run stops itself at max_statements; more means it was not the run's encoder talking.
    if len(data) > max_statements:
        notes.append(
            f"The run reported {len(data):,} statements, more than the limit of "
            f"{max_statements:,}: {len(data) - max_statements:,} were not kept."
        )
        data = data[:max_statements]
    shortened = dropped = 0
    queries = []
    for item in data:
        _fields(item, _QUERY_FIELDS, "a statement")
        sql = _of(item["sql"], str)
        if len(sql) > MAX_SQL_CHARS:
            sql, shortened = cut(sql, MAX_SQL_CHARS), shortened + 1
        params = item["params"]
        if not (params is None or isinstance(params, list | dict)):
            raise Malformed("parameters are a list, a dict or null")
        if params is not None and _size(params, MAX_PARAMS_SIZE) > MAX_PARAMS_SIZE:
            params, dropped = None, dropped + 1
        many, duration, line = _of(item["many"], bool), _seconds(item["duration"]), item["line"]
        queries.append(
            CapturedQuery(sql, params, many, duration, _line(line), _count(item["rows"]))
        )
    if shortened:
        notes.append(
            f"{shortened:,} statement{'s were' if shortened > 1 else ' was'} longer than "
            f"{MAX_SQL_CHARS:,} characters: only the beginning is kept."
        )
    if dropped:
        notes.append(
            f"{dropped:,} statement{'s' if dropped > 1 else ''} had parameters too large to keep: "
            "shown without them."
        )
    return queries


def _decode_plan(data: Any, task: Explain) -> ExplainResult:
    _fields(data, _PLAN_FIELDS, "a plan")
    if data["dataset"] != task.dataset:
        raise Malformed("a result for another dataset")
    rows = _of(data["rows"], list)
    notes = []
    if len(rows) > MAX_PLAN_ROWS:
        notes.append(
            f"The plan had {len(rows):,} lines: only the first {MAX_PLAN_ROWS:,} are kept."
        )
        rows = rows[:MAX_PLAN_ROWS]
    kept = []
    for row in rows:
        if not isinstance(row, list) or len(row) > MAX_PLAN_COLUMNS:
            raise Malformed(f"a row of a plan is a list of at most {MAX_PLAN_COLUMNS} values")
        kept.append([_plan_value(value) for value in row])
    return ExplainResult(
        dataset=task.dataset,
        rows=kept,
        error=_error(data["error"]),
        timeout_ms=_count(data["timeout_ms"]),
        truncated=notes,
    )


def _plan_value(value: Any) -> PlanValue:
    if value is None:
        return None
    if isinstance(value, str):
        return cut(value, MAX_PLAN_TEXT)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed("a value of a plan is text, a number or null")
    if not (-MAX_COUNT < value < MAX_COUNT) or not math.isfinite(value):
        raise Malformed("a number out of range")
    return value


def _size(value: Any, limit: int) -> int:
    """Characters of text plus one per other value, counted until past `limit`. Recursion is
    bounded: the reply's nesting was checked before parsing."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        value = [*value, *value.values()]
    if isinstance(value, list):
        total = 1
        for item in value:
            total += _size(item, limit - total)
            if total > limit:
                break
        return total
    return 1


def _objects_built(data: dict[str, Any], notes: list[str]) -> dict[str, int]:
    if len(data) > MAX_MODELS:
        notes.append(
            f"Objects of {len(data):,} kinds were counted as built: only {MAX_MODELS} are shown."
        )
    return {
        cut(_of(name, str), MAX_NAME_CHARS): _count(number)
        for name, number in list(data.items())[:MAX_MODELS]
    }


def _of(value: Any, kind: type) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise Malformed(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _count(value: Any) -> int:
    number: int = _of(value, int)
    if not 0 <= number < MAX_COUNT:
        raise Malformed("a count out of range")
    return number


def _line(value: Any) -> int | None:
    if value is None:
        return None
    number = _count(value)
    if number < 1:
        raise Malformed("a line number out of range")
    return number


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Malformed("a time is a number")
    # Compared before float(): an int of a thousand digits does not convert.
    if not (0 <= value < MAX_COUNT) or not math.isfinite(value):
        raise Malformed("a time out of range")
    return float(value)


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit` characters and how many more were not kept."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters not kept)"


# The warm process's control channel: a request is its length then the pickled job (the server
# speaks, the warm process only listens), the answer the forked run's pid, each length-prefixed.
LENGTH = struct.Struct("!Q")


def read_exactly(control: socket.socket, count: int) -> bytes:
    """`count` bytes off the control channel; ConnectionResetError if the other end closed it."""
    chunks = []
    while count:
        chunk = control.recv(count)
        if not chunk:
            raise ConnectionResetError("the other end closed the control channel")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)
