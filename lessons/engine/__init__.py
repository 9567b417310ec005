"""Run code on a dataset, recorded and always rolled back. Knows nothing of lessons or requests.

This is the engine's one public face: the rest of the course imports from here.

The engine has two sides, and only the contract between them is shared:

- the server's side, in this folder: `service` (the pool, lanes and queues every run goes
  through), `warm_process` (starts the warm process and asks it to fork a run) and `reply`
  (reads a run's messages, believing none of them);
- the run's side, `lessons.engine.child`: everything that happens in the warm process and in the
  runs forked from it (set-up, walls, limits, the audit hook, recording, the runner);
- `contract`: the tasks, limits, jobs and results both sides speak, and the codec of a result.
"""

from lessons.engine.contract import (
    WALLS,
    CapturedQuery,
    Explain,
    ExplainResult,
    Limits,
    PlanValue,
    RunError,
    RunResult,
    Task,
)
from lessons.engine.service import (
    RETRY_AFTER,
    AddressBusy,
    Busy,
    CheckLaneBusy,
    CodeTooLong,
    Config,
    HeavyBusy,
    LearnerBusy,
    QueueState,
    RunFolderUnwritable,
    ServiceBusy,
    Walls,
    cancel,
    explain,
    explain_all,
    kept,
    on_behalf_of,
    queue_state,
    restart,
    restored,
    run,
    start,
    walls,
)

__all__ = [
    "RETRY_AFTER",
    "WALLS",
    "AddressBusy",
    "Busy",
    "CapturedQuery",
    "CheckLaneBusy",
    "CodeTooLong",
    "Config",
    "Explain",
    "ExplainResult",
    "HeavyBusy",
    "LearnerBusy",
    "Limits",
    "PlanValue",
    "QueueState",
    "RunError",
    "RunFolderUnwritable",
    "RunResult",
    "ServiceBusy",
    "Task",
    "Walls",
    "cancel",
    "explain",
    "explain_all",
    "kept",
    "on_behalf_of",
    "queue_state",
    "restart",
    "restored",
    "run",
    "start",
    "walls",
]
