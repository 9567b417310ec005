"""Identical runs of the course's own code share one execution.

In a room everyone presses Run on the same snippets within seconds of each other. A press whose
run is identical to one in flight (the same tasks, limits, Django, databases and data content:
`key`) waits for that run and shares its result; for `window` seconds after it ended, a press
from a learner who has not had it yet gets it too. A learner pressing again gets a new run. Every
learner still sees a real run, made for the room a moment ago, and how many learners it served
(`contract.Sharing`). Learners' own code never comes here: the service runs it on its own.

Across every process of the server (they share var/run/), per key:
- `<key>.lock`, held by the run's leader while it runs (the system frees it if the leader dies);
- `<key>.state`, JSON read and written under a lock of its own: the generation (one per
  execution), when it ended, whether later presses may reuse it, who it served;
- `<key>.result`, JSON: the last finished generation's results as the run's codec encodes them,
  read back through the same checks (lessons.engine.contract.decode_results).
Within one process the followers of one generation wait on one event: one of them watches the
files, the others sleep.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import fcntl
import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import django
from django.db import connections

from lessons.engine import contract
from lessons.engine.contract import Explain, Limits, Result, RunResult, Sharing, Task

FORMAT = 1  # of the files below: a key names its format, so a change never reads an old file
POLL_SECONDS = 0.02  # how often a watcher looks for the result it waits for
CHECK_SECONDS = 0.25  # how often it makes sure that run still goes on
MAX_LEARNERS = 2_000  # kept per generation (to serve each learner once); the count goes on
# Ends of runs no later press should reuse: the service's, not the code's (a room under load must
# not be handed one learner's timeout for the next few seconds).
SERVICE_ERRORS = frozenset(
    {
        "TimeLimit",
        "CPULimit",
        "MemoryLimit",
        "Killed",
        "RunCrashed",
        "ProcessEnded",
        "ServiceUnavailable",
        "OutOfSpace",
    }
)


def key(tasks: Sequence[Task | Explain], limits: Limits, content: str) -> str:
    """What makes two runs the same run: their tasks, limits, Django, the databases they read
    (engine, name, server) and `content`, the caller's digest of the data in them."""
    databases = [
        {
            "alias": name,
            "vendor": connections[name].vendor,
            "name": str(connections[name].settings_dict["NAME"]),
            "host": str(connections[name].settings_dict.get("HOST") or ""),
            "port": str(connections[name].settings_dict.get("PORT") or ""),
        }
        for name in sorted({task.dataset for task in tasks})
    ]
    described = {
        "format": FORMAT,
        "tasks": [{"kind": type(task).__name__, **dataclasses.asdict(task)} for task in tasks],
        "limits": dataclasses.asdict(limits),
        "django": django.get_version(),
        "databases": databases,
        "content": content,
    }
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def share(
    root: Path,
    name: str,
    learner: str,
    execute: Callable[[], list[Result]],
    *,
    tasks: Sequence[Task | Explain],
    limits: Limits,
    window: float,
    deadline: float,
) -> list[Result] | None:
    """The results of the run `name` (a `key`) for `learner`: made now by `execute` (this press
    leads), or shared from the identical run in flight or just ended. None when the run waited
    for ended without a result to share and `deadline` (time.monotonic()) has passed: the caller
    answers busy. Exceptions from `execute` reach its own caller only."""
    root.mkdir(parents=True, exist_ok=True)
    me = hashlib.sha256(learner.encode()).hexdigest()[:16]
    while True:
        role, generation, held = _enter(root, name, me, window)
        if role == "leader":
            assert held is not None
            return _lead(root, name, generation, held, execute, tasks, limits)
        if role == "late":
            results = _load(root, name, generation, tasks, limits)
        else:
            results = _follow(root, name, generation, deadline, tasks, limits)
        if results is not None:
            count, ended = _served(root, name)
            return _stamped(results, Sharing(count, ended, False, f"{name}:{generation}"))
        if time.monotonic() > deadline:
            return None


# ---------------------------------------------------------------- the three roles


def _enter(root: Path, name: str, me: str, window: float) -> tuple[str, int, IO[bytes] | None]:
    """This press's role: "late" (a fresh result it has not had), "follower" (a run in flight)
    or "leader" (with the run lock, held); and the generation it belongs to."""
    with _state(root / f"{name}.state") as state:
        generation, ended = state.get("generation", 0), state.get("ended")
        learners: list[str] = state.setdefault("learners", [])
        fresh = ended is not None and time.time() - ended <= window and state.get("reusable")
        if fresh and me not in learners and (root / f"{name}.result").exists():
            _count_in(state, me)
            return "late", generation, None
        lock = open(root / f"{name}.lock", "ab")  # noqa: SIM115 (held while the run runs)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            if me not in learners:
                _count_in(state, me)
            return "follower", generation, None
        generation += 1
        state.clear()
        state.update(generation=generation, ended=None, reusable=False, learners=[], count=0)
        _count_in(state, me)
        _local_wait(name, generation, leader=True)
        return "leader", generation, lock


def _lead(
    root: Path,
    name: str,
    generation: int,
    lock: IO[bytes],
    execute: Callable[[], list[Result]],
    tasks: Sequence[Task | Explain],
    limits: Limits,
) -> list[Result]:
    results: list[Result] | None = None
    try:
        results = execute()
        _write_result(root, name, generation, results)
        _remember(name, generation, results)
        with _state(root / f"{name}.state") as state:
            if state.get("generation") == generation:
                state["ended"] = time.time()
                state["reusable"] = not any(_service_error(result) for result in results)
            count, ended = state.get("count", 1), state.get("ended") or time.time()
        return _stamped(results, Sharing(count, ended, led=True, run=f"{name}:{generation}"))
    finally:
        lock.close()  # the followers elsewhere see the result, or the run gone without one
        _announce(name, generation, results)


def _follow(
    root: Path,
    name: str,
    generation: int,
    deadline: float,
    tasks: Sequence[Task | Explain],
    limits: Limits,
) -> list[Result] | None:
    """Wait for generation `generation`'s result: on the event of the process's watcher (or
    leader), or as the watcher, on the files."""
    waiting, watcher = _local_wait(name, generation)
    if not watcher:
        waiting.event.wait(timeout=max(deadline - time.monotonic(), 0.0))
        return waiting.results
    results = None
    try:
        results = _watch(root, name, generation, deadline, tasks, limits)
    finally:
        _announce(name, generation, results)
    return results


def _watch(
    root: Path,
    name: str,
    generation: int,
    deadline: float,
    tasks: Sequence[Task | Explain],
    limits: Limits,
) -> list[Result] | None:
    checked = time.monotonic()
    while True:
        results = _load(root, name, generation, tasks, limits)
        if results is not None:
            return results
        now = time.monotonic()
        if now > deadline:
            return None
        if now - checked >= CHECK_SECONDS:
            checked = now
            if not _still_running(root, name, generation):
                return _load(root, name, generation, tasks, limits)
        time.sleep(POLL_SECONDS)


def _still_running(root: Path, name: str, generation: int) -> bool:
    with _state(root / f"{name}.state") as state:
        if state.get("generation") != generation or state.get("ended") is not None:
            return False
        with open(root / f"{name}.lock", "ab") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True  # its leader holds it
            return False  # the leader is gone without a result


# ---------------------------------------------------------------- files


@contextlib.contextmanager
def _state(path: Path) -> Iterator[dict[str, Any]]:
    """The state file's content, locked for the context and written back as it ends."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            state = json.loads(os.pread(fd, 1 << 20, 0) or b"{}")
        except ValueError:  # a damaged state starts again
            state = {}
        if not isinstance(state, dict):
            state = {}
        before = dict(state)
        yield state
        if state != before:
            data = json.dumps(state).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
    finally:
        os.close(fd)


def _count_in(state: dict[str, Any], me: str) -> None:
    state["count"] = state.get("count", 0) + 1
    if len(state["learners"]) < MAX_LEARNERS:
        state["learners"].append(me)


def _served(root: Path, name: str) -> tuple[int, float]:
    with _state(root / f"{name}.state") as state:
        return int(state.get("count", 1)), float(state.get("ended") or time.time())


def _write_result(root: Path, name: str, generation: int, results: list[Result]) -> None:
    data = {
        "generation": generation,
        "results": [contract.encode_result(result) for result in results],
        "server": [_server_side(result) for result in results],
    }
    partial = root / f"{name}.result.{os.getpid()}.{threading.get_ident()}"
    partial.write_text(json.dumps(data))
    partial.replace(root / f"{name}.result")  # readers see the whole file or none of it


def _server_side(result: Result) -> dict[str, Any]:
    """What the service added to a run's result: not in the run's codec."""
    if not isinstance(result, RunResult):
        return {}
    return {"queued": result.queued, "process_peak_memory": result.process_peak_memory}


def _load(
    root: Path, name: str, generation: int, tasks: Sequence[Task | Explain], limits: Limits
) -> list[Result] | None:
    """Generation `generation`'s results, decoded once per process."""
    if (remembered := _recall(name, generation)) is not None:
        return remembered
    try:
        data = json.loads((root / f"{name}.result").read_text())
        if data.get("generation") != generation:
            return None
        results = contract.decode_results(data, tasks, limits)
        for result, extra in zip(results, data["server"], strict=True):
            if isinstance(result, RunResult):
                result.queued = _number(extra.get("queued"), 0.0)
                peak = extra.get("process_peak_memory")
                result.process_peak_memory = peak if type(peak) is int and peak >= 0 else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    _remember(name, generation, results)
    return results


def _number(value: object, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def _service_error(result: Result) -> bool:
    return result.error is not None and result.error.type in SERVICE_ERRORS


def _stamped(results: list[Result], sharing: Sharing) -> list[Result]:
    """Each caller's own copies: the results themselves are shared between threads."""
    stamped = []
    for result in results:
        mine = copy.copy(result)
        if isinstance(mine, RunResult):
            mine.shared = sharing
        stamped.append(mine)
    return stamped


# ---------------------------------------------------------------- within one process


@dataclasses.dataclass
class _Waiting:
    event: threading.Event = dataclasses.field(default_factory=threading.Event)
    results: list[Result] | None = None


_lock = threading.Lock()
_waiting: dict[tuple[str, int], _Waiting] = {}
_recent: OrderedDict[tuple[str, int], list[Result]] = OrderedDict()
RECENT = 64  # decoded results kept per process


def _local_wait(name: str, generation: int, *, leader: bool = False) -> tuple[_Waiting, bool]:
    """The process's wait for a generation, and whether this caller is the first (the one that
    makes the result known to the others)."""
    with _lock:
        found = _waiting.get((name, generation))
        if found is not None and not leader:
            return found, False
        waiting = _waiting[(name, generation)] = _Waiting()
        return waiting, True


def _announce(name: str, generation: int, results: list[Result] | None) -> None:
    with _lock:
        waiting = _waiting.pop((name, generation), None)
    if waiting is not None:
        waiting.results = results
        waiting.event.set()


def _remember(name: str, generation: int, results: list[Result]) -> None:
    with _lock:
        _recent[(name, generation)] = results
        _recent.move_to_end((name, generation))
        while len(_recent) > RECENT:
            _recent.popitem(last=False)


def _recall(name: str, generation: int) -> list[Result] | None:
    with _lock:
        return _recent.get((name, generation))
