"""A run cannot make its own query count lie: the measuring code is sealed before the run and
checked after it. Patching the recorder, Django's cursor or the result replaces the count with an
error, since the count could not be trusted."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from django.db.backends import utils
from django.db.backends.base.base import BaseDatabaseWrapper

from lessons.engine import contract
from lessons.engine.child import atomic, capture, integrity, runner


def _watched() -> dict[str, Any]:
    return {
        "QueryRecorder.__call__": capture.QueryRecorder.__call__,
        "QueryRecorder._line": capture.QueryRecorder._line,
        "CursorWrapper.execute": utils.CursorWrapper.execute,
        "CursorWrapper.executemany": utils.CursorWrapper.executemany,
        "CursorWrapper._execute_with_wrappers": utils.CursorWrapper._execute_with_wrappers,  # type: ignore[attr-defined]
        "BaseDatabaseWrapper.execute_wrapper": BaseDatabaseWrapper.execute_wrapper,
        "RunResult.query_count": contract.RunResult.query_count,
        "run_code": runner.run_code,
        "list.append": list.append,
        # What measures the rest of a run's cost, and checks its count.
        "QueryRecorder._probe": capture.QueryRecorder._probe,
        "RowCounter.fetchone": capture.RowCounter.fetchone,
        "RowCounter.fetchmany": capture.RowCounter.fetchmany,
        "RowCounter.fetchall": capture.RowCounter.fetchall,
        "RowCounter.__iter__": capture.RowCounter.__iter__,
        "Instances.add": capture.Instances.add,
        "Instances.finish": capture.Instances.finish,
        "TableSnapshots.probe": atomic.TableSnapshots.probe,
        "Witness._traced": integrity.Witness._traced,
        "Witness.still_listening": integrity.Witness.still_listening,
        "problems": integrity.problems,
        "RunResult.rows_fetched": contract.RunResult.rows_fetched,
        "RowCounter._read": capture.RowCounter._read,
        "Witness.tally": integrity.Witness.tally,
        # What turns the results into the reply, and this check itself.
        "encode_result": contract.encode_result,
        "sandbox.encode_result": sys.modules["lessons.engine.child.sandbox"].encode_result,
        "Seal.check": Seal.check,
    }


@dataclass
class Seal:
    originals: dict[str, Any]

    def __init__(self) -> None:
        self.originals = _watched()

    def check(self, result: contract.RunResult) -> None:
        now = _watched()
        changed = [name for name, original in self.originals.items() if now[name] is not original]
        if changed:
            result.queries = []
            result.error = contract.RunError(
                "MeasurementTampered",
                f"The run replaced {changed[0]}, which the course uses to count queries, so its "
                "query count cannot be trusted.",
                None,
            )
