"""The web process reads a run's reply as data it does not believe: read with a byte cap and a
deadline, nesting and size bounded before parsing (lessons.engine.reply), every field and type
checked, every size capped again, and what is cut said to the learner (the contract's codec,
lessons.engine.contract)."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lessons.engine import contract, reply
from lessons.engine.contract import (
    CapturedQuery,
    Explain,
    ExplainResult,
    Limits,
    RunError,
    RunResult,
    Task,
)

TASK = Task("print(1)", "tiny")
RESULT_FIELDS = (
    "dataset, queries, duration, output, output_dropped, objects_built, peak_memory, "
    "objects_alive_peak, error, first_statement_at, integrity, atomic"
)
QUERY_FIELDS = "sql, params, many, duration, line, rows"
LIMITS = Limits()


def query(sql: str, params: Any = None) -> dict[str, Any]:
    """A statement as the run's own encoder writes it."""
    return {"sql": sql, "params": params, "many": False, "duration": 0.0, "line": 1, "rows": 0}


STATEMENT = {
    "sql": "SELECT 1 WHERE id = %s",
    "params": [3],
    "many": False,
    "duration": 0.001,
    "line": 2,
    "rows": 1,
}


def result_data(**fields: Any) -> dict[str, Any]:
    """A result as the run's own encoder writes it."""
    result = RunResult(
        dataset="tiny",
        queries=[CapturedQuery("SELECT 1 WHERE id = %s", [3], False, 0.001, 2)],
        duration=0.01,
        output="1",
        objects_built={"Post": 5},
        first_statement_at=1_750_000_000.25,
    )
    return {**contract.encode_result(result), **fields}


def ok(*results: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "ok", "results": list(results)}


def refused(why: str) -> Any:
    """Malformed, for exactly this reason."""
    return pytest.raises(contract.Malformed, match=f"^{re.escape(why)}$")


def read(data: dict[str, Any], limits: Limits = LIMITS) -> RunResult:
    """One result through the whole decoder: bytes, message, result."""
    message = reply.decode(json.dumps(ok(data)).encode())
    [result] = contract.decode_results(message, [TASK], limits)
    return result


# What the run's encoder makes reads back as it was


def test_a_result_the_run_encodes_reads_back_as_it_was() -> None:
    data = result_data(
        error={"type": "ValueError", "message": "bad", "line": 3},
        peak_memory=1024,
        output_dropped=4,
    )

    result = read(data)

    assert result.queries == [CapturedQuery("SELECT 1 WHERE id = %s", [3], False, 0.001, 2)]
    assert result.error == RunError("ValueError", "bad", 3)
    assert (result.output, result.output_dropped, result.peak_memory) == ("1", 4, 1024)
    assert result.objects_built == {"Post": 5}
    assert result.first_statement_at == data["first_statement_at"]
    assert result.truncated == []


def test_other_kinds_of_message_pass_through() -> None:
    message = {"kind": "signal", "signal": 9, "cpu": 0.5}

    assert reply.decode(json.dumps(message).encode()) == message


# The statement count, capped again


def test_a_forged_million_statements_are_cut_to_the_run_limit() -> None:
    data = result_data(queries=[STATEMENT] * 1_000_000)

    [result] = contract.decode_results(ok(data), [TASK], Limits(max_statements=20_000))

    assert result.query_count == 20_000
    assert result.truncated == [
        "The run reported 1,000,000 statements, more than the limit of 20,000: 980,000 were "
        "not kept."
    ]


def test_a_forged_million_statements_are_not_even_parsed() -> None:
    raw = json.dumps(ok(result_data(queries=[STATEMENT] * 1_000_000))).encode()

    with pytest.raises(reply.TooLarge) as too_large:
        reply.decode(raw)

    assert too_large.value.why == reply.TOO_MANY_VALUES


def test_statements_up_to_the_limit_are_all_kept() -> None:
    result = read(result_data(queries=[STATEMENT] * 50), Limits(max_statements=50))

    assert result.query_count == 50
    assert result.truncated == []


# Nesting, bounded before json.loads recurses


def nested(depth: int) -> bytes:
    """A crash message whose extra field is nested `depth` deep in all."""
    return (
        b'{"kind": "crash", "message": "x", "extra": '
        + b"[" * (depth - 1)
        + b"]" * (depth - 1)
        + b"}"
    )


def test_a_deeply_nested_reply_is_malformed_without_recursing() -> None:
    with refused("nested deeper than 12"):
        reply.decode(b"[" * 100_000 + b"]" * 100_000)


def test_nesting_up_to_the_bound_is_read() -> None:
    assert reply.decode(nested(reply.MAX_DEPTH))["kind"] == "crash"


def test_nesting_one_past_the_bound_is_malformed() -> None:
    with refused("nested deeper than 12"):
        reply.decode(nested(reply.MAX_DEPTH + 1))


def test_brackets_and_escaped_quotes_inside_text_are_not_nesting() -> None:
    text = '\\"[[[' * 1_000 + "\\" + "{" * 1_000

    message = reply.decode(json.dumps({"kind": "crash", "message": text}).encode())

    assert message["message"] == text


# Reading from the channel: a byte cap and a deadline


@pytest.fixture
def channel() -> Iterator[tuple[Any, Any]]:
    receiver, sender = multiprocessing.Pipe(duplex=False)
    yield receiver, sender
    receiver.close()
    sender.close()


def test_a_reply_over_the_byte_cap_is_not_read(channel: tuple[Any, Any]) -> None:
    receiver, sender = channel
    os.write(sender.fileno(), struct.pack("!i", reply.MAX_REPLY_BYTES + 1) + b"[" * 1000)

    assert reply.receive(receiver) == {"kind": "crash", "message": reply.TOO_LARGE}


def test_a_reply_that_stops_halfway_is_given_up_on(channel: tuple[Any, Any]) -> None:
    receiver, sender = channel
    os.write(sender.fileno(), struct.pack("!i", 1000) + b'{"kind": ')
    started = time.monotonic()

    message = reply.receive(receiver, seconds=0.2)

    assert message == {
        "kind": "crash",
        "message": "its reply did not arrive in full within 0.2 seconds.",
    }
    assert time.monotonic() - started < 2


def test_a_large_honest_reply_is_read_whole(channel: tuple[Any, Any]) -> None:
    receiver, sender = channel
    data = result_data(queries=[query("SELECT %s" + " " * 200, [i]) for i in range(20_000)])
    # Larger than a pipe holds: written from another thread while it is read.
    writer = threading.Thread(target=sender.send_bytes, args=(json.dumps(ok(data)).encode(),))
    writer.start()

    message = reply.receive(receiver)
    writer.join()

    [result] = contract.decode_results(message, [TASK], LIMITS)
    assert result.query_count == 20_000


def test_a_negative_length_is_malformed(channel: tuple[Any, Any]) -> None:
    receiver, sender = channel
    os.write(sender.fileno(), struct.pack("!i", -5))

    assert reply.receive(receiver) == {"kind": "malformed"}


def test_a_channel_closed_without_a_word_is_no_reply(channel: tuple[Any, Any]) -> None:
    receiver, sender = channel
    sender.close()

    assert reply.receive(receiver) is None


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"no": "kind"}', b'{"kind": 1}', b"\xff\xfe{}", b"{}" + b" " * 3],
    ids=["not-json", "not-a-dict", "no-kind", "kind-not-text", "not-utf8", "empty-dict"],
)
def test_a_reply_that_is_not_a_message_is_malformed(raw: bytes, channel: tuple[Any, Any]) -> None:
    receiver, sender = channel
    sender.send_bytes(raw)

    assert reply.receive(receiver) == {"kind": "malformed"}


@pytest.mark.parametrize(
    ("number", "why"),
    [
        (b"NaN", "NaN is not a number a run reports"),
        (b"Infinity", "Infinity is not a number a run reports"),
        (b"-Infinity", "-Infinity is not a number a run reports"),
        (b"1e400", "a time out of range"),  # parsed, as infinity
    ],
)
def test_numbers_json_allows_but_no_run_reports_are_malformed(number: bytes, why: str) -> None:
    raw = json.dumps(ok(result_data(duration=0.5))).encode().replace(b"0.5", number)

    with refused(why):
        contract.decode_results(reply.decode(raw), [TASK], LIMITS)


def test_a_crash_without_text_is_malformed() -> None:
    with refused("a crash without a message"):
        reply.decode(b'{"kind": "crash", "message": ["x"]}')


# Strict types: anything the run's encoder does not write is malformed


def changed(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data[name] = value

    return change


def statement(name: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["queries"][0][name] = value

    return change


def without(name: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in fields.items() if key != name}


def removed(name: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        del data[name]

    return change


BAD_TYPES = [
    pytest.param(removed("output"), f"a result has the fields {RESULT_FIELDS}", id="missing-field"),
    pytest.param(
        changed("extra", 1), f"a result has the fields {RESULT_FIELDS}", id="field-it-never-writes"
    ),
    pytest.param(changed("dataset", "large"), "a result for another dataset", id="other-dataset"),
    pytest.param(changed("queries", {}), "expected list, got dict", id="queries-not-a-list"),
    pytest.param(
        changed("queries", [without("line", STATEMENT)]),
        f"a statement has the fields {QUERY_FIELDS}",
        id="statement-of-five",
    ),
    pytest.param(
        changed("queries", [[*STATEMENT.values()]]),
        f"a statement has the fields {QUERY_FIELDS}",
        id="statement-as-a-list",
    ),
    pytest.param(
        statement("cost", 1), f"a statement has the fields {QUERY_FIELDS}", id="statement-extra"
    ),
    pytest.param(statement("sql", 1), "expected str, got int", id="sql-not-text"),
    pytest.param(
        statement("params", "3"), "parameters are a list, a dict or null", id="params-not-a-list"
    ),
    pytest.param(statement("many", 0), "expected bool, got int", id="many-not-a-bool"),
    pytest.param(statement("duration", True), "a time is a number", id="duration-a-bool"),
    pytest.param(statement("duration", -1), "a time out of range", id="duration-negative"),
    pytest.param(statement("line", 0), "a line number out of range", id="line-zero"),
    pytest.param(
        statement("line", 10**1000), "a count out of range", id="line-of-a-thousand-digits"
    ),
    pytest.param(statement("line", "2"), "expected int, got str", id="line-not-a-number"),
    pytest.param(changed("output", None), "expected str, got NoneType", id="output-null"),
    pytest.param(changed("output_dropped", 1.5), "expected int, got float", id="dropped-float"),
    pytest.param(changed("output_dropped", -1), "a count out of range", id="dropped-negative"),
    pytest.param(
        changed("objects_built", {"Post": True}), "expected int, got bool", id="count-a-bool"
    ),
    pytest.param(changed("peak_memory", "1 MB"), "expected int, got str", id="memory-text"),
    pytest.param(
        changed("error", {"type": "ValueError", "message": "bad"}),
        "an error has the fields type, message, line",
        id="error-2",
    ),
    pytest.param(
        changed("error", ["ValueError", "bad", None]),
        "an error has the fields type, message, line",
        id="error-as-a-list",
    ),
    pytest.param(
        changed("error", {"type": "ValueError", "message": 7, "line": None}),
        "expected str, got int",
        id="msg",
    ),
    pytest.param(changed("first_statement_at", "now"), "a time is a number", id="when-text"),
]


@pytest.mark.parametrize(("change", "why"), BAD_TYPES)
def test_a_field_of_the_wrong_type_is_malformed(
    change: Callable[[dict[str, Any]], None], why: str
) -> None:
    data = copy.deepcopy(result_data())
    change(data)

    with refused(why):
        read(data)


def test_one_result_per_task() -> None:
    with refused("one result per task"):
        contract.decode_results(ok(result_data(), result_data()), [TASK], LIMITS)


# Sizes, capped again, with a note the learner reads


def test_a_statement_too_long_is_cut_with_a_note() -> None:
    sql = "SELECT " + "1, " * 100_000 + "1"

    result = read(result_data(queries=[query(sql)] * 2))

    cut = len(sql) - contract.MAX_SQL_CHARS
    assert [q.sql for q in result.queries] == [
        f"{sql[: contract.MAX_SQL_CHARS]}… ({cut:,} more characters not kept)"
    ] * 2
    assert result.truncated == [
        "2 statements were longer than 100,000 characters: only the beginning is kept."
    ]


def test_parameters_too_large_are_not_kept() -> None:
    params = ["x" * 1_000] * 200

    result = read(result_data(queries=[query("SELECT %s", params), STATEMENT]))

    assert [q.params for q in result.queries] == [None, [3]]
    assert result.truncated == ["1 statement had parameters too large to keep: shown without them."]


def test_output_too_long_is_cut_with_a_note() -> None:
    result = read(result_data(output="x" * (contract.MAX_OUTPUT_CHARS + 1)))

    assert result.output == "x" * contract.MAX_OUTPUT_CHARS
    assert result.truncated == [
        "The output was longer than 128,000 characters: the rest was not kept."
    ]


def test_an_error_message_too_long_is_cut() -> None:
    result = read(result_data(error={"type": "E" * 300, "message": "m" * 20_000, "line": 1}))

    assert result.error == RunError(
        "E" * 200 + "… (100 more characters not kept)",
        "m" * 10_000 + "… (10,000 more characters not kept)",
        1,
    )


def test_counts_of_objects_built_are_capped() -> None:
    built = {f"Model{i}": 1 for i in range(1_000)}

    result = read(result_data(objects_built=built))

    assert list(result.objects_built) == [f"Model{i}" for i in range(contract.MAX_MODELS)]
    assert result.truncated == ["Objects of 1,000 kinds were counted as built: only 100 are shown."]


# A plan's rows (an Explain task): checked and capped the same way

EXPLAIN = Explain("tiny", "SELECT 1", [])
PLAN_ROWS: list[list[Any]] = [[2, 0, 0, "SCAN blog_post"]]


def plan_data(**fields: Any) -> dict[str, Any]:
    """A plan as the run's own encoder writes it."""
    return {**contract.encode_result(ExplainResult("tiny", rows=PLAN_ROWS)), **fields}


def read_plan(data: dict[str, Any]) -> ExplainResult:
    message = reply.decode(json.dumps(ok(data)).encode())
    [result] = contract.decode_results(message, [EXPLAIN], LIMITS)
    assert isinstance(result, ExplainResult)
    return result


def test_a_plan_the_run_encodes_reads_back_as_it_was() -> None:
    canceled = {"type": "QueryCanceled", "message": "canceling statement", "line": None}

    result = read_plan(plan_data(error=canceled, timeout_ms=50))

    assert result == ExplainResult(
        "tiny", PLAN_ROWS, RunError("QueryCanceled", "canceling statement", None), timeout_ms=50
    )


def test_a_plan_of_too_many_lines_is_cut_with_a_note() -> None:
    result = read_plan(plan_data(rows=[["Seq Scan"]] * (contract.MAX_PLAN_ROWS + 5)))

    assert len(result.rows) == contract.MAX_PLAN_ROWS
    assert result.truncated == ["The plan had 10,005 lines: only the first 10,000 are kept."]


def test_a_line_of_a_plan_too_long_is_cut() -> None:
    result = read_plan(plan_data(rows=[["x" * (contract.MAX_PLAN_TEXT + 10)]]))

    assert result.rows == [["x" * contract.MAX_PLAN_TEXT + "… (10 more characters not kept)"]]


BAD_PLANS = [
    pytest.param(
        removed("timeout_ms"),
        "a plan has the fields dataset, rows, error, timeout_ms",
        id="missing-field",
    ),
    pytest.param(changed("dataset", "large"), "a result for another dataset", id="other-dataset"),
    pytest.param(changed("rows", {}), "expected list, got dict", id="rows-not-a-list"),
    pytest.param(
        changed("rows", ["Seq Scan"]), "a row of a plan is a list of at most 8 values", id="flat"
    ),
    pytest.param(
        changed("rows", [[1] * 9]), "a row of a plan is a list of at most 8 values", id="wide"
    ),
    pytest.param(
        changed("rows", [[{"a": 1}]]), "a value of a plan is text, a number or null", id="dict"
    ),
    pytest.param(
        changed("rows", [[True]]), "a value of a plan is text, a number or null", id="bool"
    ),
    pytest.param(changed("rows", [[10**30]]), "a number out of range", id="huge-number"),
    pytest.param(changed("timeout_ms", -1), "a count out of range", id="timeout-negative"),
    pytest.param(
        changed("error", "boom"), "an error has the fields type, message, line", id="error-text"
    ),
]


@pytest.mark.parametrize(("change", "why"), BAD_PLANS)
def test_a_plan_field_of_the_wrong_type_is_malformed(
    change: Callable[[dict[str, Any]], None], why: str
) -> None:
    data = copy.deepcopy(plan_data())
    change(data)

    with refused(why):
        read_plan(data)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (statement("rows", -1), "a count out of range"),
        (statement("rows", True), "expected int, got bool"),
        (changed("objects_alive_peak", 1.5), "expected int, got float"),
        (changed("integrity", "all fine"), "expected list, got str"),
        (
            changed("atomic", {"fail_on_write": 2, "reached": True, "rows_left": 0, "tables": []}),
            "an atomic probe the task did not ask for",
        ),
    ],
    ids=["rows-negative", "rows-a-bool", "alive-a-float", "integrity-text", "probe-unasked"],
)
def test_a_cost_the_run_reports_is_checked(change: Any, why: str) -> None:
    data = result_data()
    change(data)

    with refused(why):
        read(data)


def test_problems_a_run_reports_about_its_count_are_capped() -> None:
    result = read(result_data(integrity=["x" * 20_000] * 50))

    assert len(result.integrity) == contract.MAX_INTEGRITY + 1
    assert all(len(problem) < contract.MAX_ERROR_CHARS + 100 for problem in result.integrity)
