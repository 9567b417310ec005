"""The run service: every run happens in a disposable worker process, never in a web thread.

A caller (a page, the API, a measurement) submits code, or a statement to explain, and waits for
the result with a deadline. Across every process of the server (all gunicorn workers share
var/), the service keeps:

- a bounded pool: at most `workers` runs at once, each holding a slot (a locked file);
- a short queue: at most `queue` callers waiting for a slot; beyond that the answer is "busy";
- a lane for heavy runs (any task on a heavy dataset, `large` by default): at most
  `heavy_workers` of them hold slots at once, with a short queue of their own, so a room looping
  the large snippets never takes every slot from learners running on the smaller datasets;
- a lane for exercise checks, with slots of its own (`check_workers`) and its own queue: no run
  elsewhere, on any dataset, delays a check;
- first come, first served in every queue: while anyone waits, a newcomer (a learner looping
  runs, say) queues behind them, so one learner's loop never starves the others;
- one run in flight per learner, and at most `per_address` per client address (the web layer
  names the address with `on_behalf_of`), whichever learner identities the runs carry;
- per slot, its own copy of each dataset, so no two runs ever share a database file (no locks
  between learners). Runs always roll back; a copy is refreshed when its dataset is reseeded
  and after a run that was killed.

Each run is forked from a warm process that already has Django set up (lessons.engine.warm_process
starts it and asks it for runs), so a run costs milliseconds and nothing one run patches survives
it. What happens inside a run is lessons.engine.child's; what a run is asked and answers,
lessons.engine.contract's.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import functools
import hashlib
import os
import shutil
import signal
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.db import DatabaseError, connections

from lessons.datasets import pgguard
from lessons.engine import contract, reply, sharing, warm_process
from lessons.engine.contract import (
    Explain,
    ExplainResult,
    Job,
    Limits,
    Result,
    RunError,
    RunResult,
    Task,
    WallPlan,
)
from lessons.errors import Unavailable

RETRY_AFTER = 2  # seconds a busy answer asks the client to wait


class Busy(Unavailable):
    retry_after = RETRY_AFTER


class LearnerBusy(Busy):
    def __init__(self) -> None:
        super().__init__("Your previous run is still going. Wait for it, then try again.")


class ServiceBusy(Busy):
    def __init__(self) -> None:
        super().__init__("The course is busy running other learners' code. Try again in a moment.")


class HeavyBusy(ServiceBusy):
    def __init__(self, datasets: frozenset[str]) -> None:
        names = " and ".join(sorted(datasets))
        Busy.__init__(
            self,
            f"Every worker for the {names} dataset is taken. Try again in a moment, or run on a "
            "smaller dataset meanwhile.",
        )


class CheckLaneBusy(ServiceBusy):
    def __init__(self) -> None:
        Busy.__init__(
            self,
            "Every worker for exercise checks is taken by other learners' checks. Check again in "
            "a moment: your code is still in the editor.",
        )


class AddressBusy(Busy):
    def __init__(self, address: str, count: int) -> None:
        if count == 1:
            going = (
                f"Another run from your address ({address}) is still going, and the course "
                "takes one at a time from each address."
            )
        else:
            going = (
                f"{count} runs from your address ({address}) are still going, and the course "
                f"takes at most {count} at a time from each address."
            )
        super().__init__(f"{going} Wait for it to finish, then try again.")


class RunFolderUnwritable(Unavailable):
    """var/run/ (the pool's lock files, the limits' counters) cannot be written: read-only, full,
    or not the server's user's."""

    def __init__(self, root: Path, error: OSError) -> None:
        reason = error.strerror or type(error).__name__
        super().__init__(
            f"The course cannot write its files under {root} ({reason}), so nothing was done. "
            f"Make {root} writable for the user the server runs as (and check the disk has "
            "room), then try again."
        )


class CodeTooLong(Unavailable):
    status = 413


@dataclass(frozen=True)
class Config:
    workers: int
    queue: int
    queue_wait: float  # seconds a caller may wait in the queue for a slot
    heavy_datasets: frozenset[str]
    heavy_workers: int  # at most this many slots run heavy tasks at once
    heavy_queue: int
    check_workers: int  # slots for exercise checks only, on top of `workers`
    check_queue: int
    per_address: int  # runs in flight at once from one client address, all lanes together
    limits: Limits
    course_factor: int  # course snippets get this many times the learner limits
    root: Path
    # How long a finished run of the course's own code serves later identical presses (0: only
    # presses that arrive while it runs; negative: never shared).
    share_seconds: float = 0.0

    @classmethod
    def from_settings(cls) -> Config:
        return cls(
            workers=settings.COURSE_RUN_WORKERS,
            queue=settings.COURSE_RUN_QUEUE,
            queue_wait=settings.COURSE_RUN_QUEUE_WAIT,
            heavy_datasets=frozenset(settings.COURSE_RUN_HEAVY_DATASETS),
            heavy_workers=settings.COURSE_RUN_HEAVY_WORKERS,
            heavy_queue=settings.COURSE_RUN_HEAVY_QUEUE,
            check_workers=settings.COURSE_RUN_CHECK_WORKERS,
            check_queue=settings.COURSE_RUN_CHECK_QUEUE,
            per_address=settings.COURSE_RUN_PER_ADDRESS,
            limits=Limits(
                cpu_seconds=settings.COURSE_RUN_CPU_SECONDS,
                memory_mb=settings.COURSE_RUN_MEMORY_MB,
                wall_seconds=settings.COURSE_RUN_WALL_SECONDS,
                max_statements=settings.COURSE_RUN_MAX_STATEMENTS,
                max_code_chars=settings.COURSE_RUN_MAX_CODE_CHARS,
                scratch_mb=settings.COURSE_RUN_SCRATCH_MB,
            ),
            course_factor=settings.COURSE_RUN_COURSE_FACTOR,
            root=Path(settings.COURSE_RUN_DIR),
            share_seconds=settings.COURSE_RUN_SHARE_SECONDS,
        )


def restart() -> None:
    """Stop the warm process: the next run starts a new one, which reads the settings (and
    COURSE_RUN_WALLS) from the environment again."""
    warm_process.restart()


def start() -> None:
    """Start the warm process now rather than on the first run (servers call this at start), and
    find out which of the kernel's walls this server can build (tried in throwaway processes,
    best before the server starts threads)."""
    walls()
    warm_process.start()


@dataclass(frozen=True)
class Walls:
    built: frozenset[str]  # the walls every run gets
    lines: list[str]  # one per wall: on, or off and why
    missing: list[str]  # essential protections (files, network) no built wall gives

    @property
    def enough_for_strangers(self) -> bool:
        return not self.missing


def walls(asked: Iterable[str] | None = None) -> Walls:
    """The kernel's walls around runs on this server, as COURSE_RUN_WALLS (or `asked`) asks and
    the kernel allows (the warm process finds the same: same user, same kernel, same setting).
    Asked on every request that may run learners' code: worked out once per setting."""
    return _walls_for(tuple(settings.COURSE_RUN_WALLS if asked is None else asked))


@functools.cache
def _walls_for(asked: tuple[str, ...]) -> Walls:
    # The one use of the run's side here: the walls are tried in throwaway processes forked from
    # this one, built by the same code a run builds them with.
    from lessons.engine.child import confine

    built = confine.available_walls(asked)
    return Walls(built, confine.describe(frozenset(asked)), confine.missing_essentials(built))


_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_address", default=None)
# The file where the run being submitted says where it waits in a queue, for `queue_state`.
_waiting_note: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "run_waiting_note", default=None
)
# The file whose appearance ends the learner's run being submitted (`cancel`).
_cancel_note: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "run_cancel_note", default=None
)
CANCEL_LOOK_SECONDS = 0.2  # how often a run in flight looks whether its learner cancelled it


# A cancel may reach the server a moment before the run it is for (both requests in flight);
# one older than this was for a run that had already ended.
CANCEL_STALE_SECONDS = 10


def _forget_stale_cancel(note: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if time.time() - note.stat().st_mtime > CANCEL_STALE_SECONDS:
            note.unlink(missing_ok=True)


def kept(result: RunResult) -> dict[str, Any]:
    """A run's result as JSON, to be shown again later (`restored`): the run's own codec, and
    what the service added."""
    return {
        "result": contract.encode_result(result),
        "queued": result.queued,
        "process_peak_memory": result.process_peak_memory,
    }


def restored(
    data: Any, task: Task, *, course_code: bool = False, config: Config | None = None
) -> RunResult:
    """A result `kept` earlier, checked and bounded as a run's reply is (contract.Malformed)."""
    config = config or Config.from_settings()
    limits = config.limits.scaled(config.course_factor) if course_code else config.limits
    if not isinstance(data, dict):
        raise contract.Malformed("a kept result is an object")
    result = contract.decode_result(data.get("result"), task, limits)
    result.queued = _number_or(data.get("queued"), 0.0)
    peak = data.get("process_peak_memory")
    result.process_peak_memory = peak if type(peak) is int and peak >= 0 else None
    return result


def _number_or(value: Any, default: float) -> float:
    return float(value) if type(value) in (int, float) and value >= 0 else default


def cancel(learner: str, config: Config | None = None) -> None:
    """End the learner's run in flight (a run of theirs that starts later is not touched)."""
    config = config or Config.from_settings()
    note = config.root / "learners" / f"{_hashed(learner)}.cancel"
    note.parent.mkdir(parents=True, exist_ok=True)
    note.touch()


@contextlib.contextmanager
def on_behalf_of(address: str | None) -> Iterator[None]:
    """Runs submitted in this context count against `address`'s runs in flight (`per_address`);
    None sets no such limit (the course's own commands, a learner's own machine)."""
    token = _address.set(address)
    try:
        yield
    finally:
        _address.reset(token)


def run(
    tasks: list[Task],
    *,
    learner: str,
    course_code: bool = False,
    check: bool = False,
    config: Config | None = None,
    share: str | None = None,
    in_line: bool = False,
) -> list[RunResult]:
    """Run `tasks` one after the other in one worker; Busy if the service cannot take them now.
    `check`: an exercise check, which runs in the check lane. `share`: for the course's own code,
    a digest of the data the tasks read; identical runs with the same digest then share one
    execution (lessons.engine.sharing). Learners' code is never shared. `in_line`: a learner's
    press, which waits behind their run in flight (LEARNER_LINE of them) instead of being told
    to wait at once."""
    if share is not None and not course_code:
        raise ValueError("only the course's own code is shared")
    results = _submit(
        tasks,
        learner,
        course_code=course_code,
        check=check,
        config=config,
        share=share,
        in_line=in_line,
    )
    return cast("list[RunResult]", results)


def explain(
    statement: Explain, *, learner: str | None = None, config: Config | None = None
) -> ExplainResult:
    """The plan of one statement, made in a worker like any run: the same pool, lanes, walls and
    limits (a page's request never runs EXPLAIN itself). Busy if the service cannot take it now.
    `learner`: the learner whose one run in flight it is (None: nobody's, for a page that does
    not know the learner; the client address's limit still counts it)."""
    [result] = _submit([statement], learner, config=config)
    return cast(ExplainResult, result)


def explain_all(
    statements: Sequence[Explain],
    *,
    learner: str | None = None,
    check: bool = False,
    config: Config | None = None,
) -> list[ExplainResult]:
    """The plans of several statements, one after the other in one worker, as `explain` makes
    one. `check`: for an exercise check, in the check lane."""
    results = _submit(statements, learner, check=check, config=config)
    return cast("list[ExplainResult]", results)


def _submit(
    tasks: Sequence[Task | Explain],
    learner: str | None,
    *,
    course_code: bool = False,
    check: bool = False,
    config: Config | None = None,
    share: str | None = None,
    in_line: bool = False,
) -> list[Result]:
    config = config or Config.from_settings()
    limits = config.limits.scaled(config.course_factor) if course_code else config.limits
    for task in tasks:
        if isinstance(task, Task) and len(task.code) > limits.max_code_chars:
            raise CodeTooLong(
                f"The code is {len(task.code):,} characters long; a run takes at most "
                f"{limits.max_code_chars:,}."
            )
    root = config.root
    with contextlib.ExitStack() as holding:
        try:
            root.mkdir(parents=True, exist_ok=True)
            if learner is not None:
                holding.enter_context(
                    _learner_turn(root, learner, config.queue_wait)
                    if in_line
                    else _learner_lock(root, learner)
                )
                note = _waiting_note.set(root / "learners" / f"{_hashed(learner)}.queued")
                holding.callback(_waiting_note.reset, note)
                if share is None:  # a run shared by a room is no one learner's to cancel
                    stop = root / "learners" / f"{_hashed(learner)}.cancel"
                    _forget_stale_cancel(stop)
                    cancelling = _cancel_note.set(stop)
                    holding.callback(_cancel_note.reset, cancelling)
                    holding.callback(stop.unlink, missing_ok=True)  # it ended: nothing to cancel
        except OSError as exc:  # a read-only or full var/: say so, not a 500
            raise RunFolderUnwritable(root, exc) from exc
        if share is None or config.share_seconds < 0:
            return _execute(tasks, limits, config, check=check)
        # A press waits for the identical run in flight at most as long as that run may take.
        deadline = time.monotonic() + config.queue_wait + limits.wall_seconds * len(tasks) + 5
        try:
            shared = sharing.share(
                root / "shared",
                sharing.key(tasks, limits, share),
                learner or "",
                lambda: _execute(tasks, limits, config, check=check),
                tasks=tasks,
                limits=limits,
                window=config.share_seconds,
                deadline=deadline,
            )
        except OSError as exc:
            raise RunFolderUnwritable(root, exc) from exc
        if shared is None:
            raise ServiceBusy()
        return shared


def _execute(
    tasks: Sequence[Task | Explain], limits: Limits, config: Config, *, check: bool
) -> list[Result]:
    """Take the client address's place and a slot (waiting in the queue), then run."""
    root = config.root
    heavy = any(task.dataset in config.heavy_datasets for task in tasks)
    address = _address.get()
    asked = time.monotonic()
    with contextlib.ExitStack() as holding:
        try:
            if address is not None and config.per_address > 0:  # 0 turns the limit off
                holding.enter_context(_address_lock(root, address, config.per_address))
            slot = holding.enter_context(_slot(root, config, heavy=heavy, check=check))
        except OSError as exc:  # a read-only or full var/: say so, not a 500
            raise RunFolderUnwritable(root, exc) from exc
        waited = time.monotonic() - asked
        results = _run_in_slot(slot, tasks, limits, slot_at=asked + waited)
        _note_run_seconds(root, time.monotonic() - asked - waited)
    for result in results:
        result.queued = waited
    return results


def _hashed(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:24]


# A learner's presses that may wait behind the one of theirs running: Run on the bad card, then
# at once on the fixed one, runs both in turn.
LEARNER_LINE = 2


@contextlib.contextmanager
def _learner_lock(root: Path, learner: str) -> Iterator[None]:
    """The learner's run in flight: one at a time, LearnerBusy at once if one is (the shared
    measurements and references use it so: one process makes them, the others do not wait)."""
    with _try_lock(root / "learners" / _hashed(learner)) as held:
        if not held:
            raise LearnerBusy()
        yield


@contextlib.contextmanager
def _learner_turn(root: Path, learner: str, wait: float) -> Iterator[None]:
    """A learner's press: a place in their line (LEARNER_LINE behind the run in flight), then
    their run lock once it is free, within `wait` seconds. A press past a full line, or one that
    waited that long, is told to wait (LearnerBusy)."""
    hashed = _hashed(learner)
    with contextlib.ExitStack() as stack:
        if _take_any(stack, root / "learners" / f"{hashed}.line", LEARNER_LINE + 1) is None:
            raise LearnerBusy()
        deadline = time.monotonic() + wait
        while True:
            turn = contextlib.ExitStack()
            if turn.enter_context(_try_lock(root / "learners" / hashed)):
                stack.push(turn.__exit__)
                break
            turn.close()
            if time.monotonic() >= deadline:
                raise LearnerBusy()
            time.sleep(0.05)
        yield


@contextlib.contextmanager
def _address_lock(root: Path, address: str, count: int) -> Iterator[None]:
    """One of the `count` places of `address`, held for the run, whatever learner it is for:
    new learner identities from one machine add no runs in flight."""
    with contextlib.ExitStack() as stack:
        if _take_any(stack, root / "addresses" / _hashed(address), count) is None:
            raise AddressBusy(address, count)
        yield


@contextlib.contextmanager
def _slot(root: Path, config: Config, *, heavy: bool, check: bool = False) -> Iterator[Path]:
    """A free slot directory, waiting in the queue for at most `queue_wait` seconds. An exercise
    check takes one of the check lane's slots, whatever its datasets: the check lane is behind
    nothing else. Any other heavy run first takes a place in the heavy lane (and holds it while it
    runs)."""
    deadline = time.monotonic() + config.queue_wait
    with contextlib.ExitStack() as holding:
        if check:
            checks = (root / "check-slots", config.check_workers, root / "check-queue")
            yield _take_waiting(holding, *checks, config.check_queue, deadline, CheckLaneBusy())
            return
        if heavy:
            lane = (root / "heavy", config.heavy_workers, root / "heavy-queue", config.heavy_queue)
            _take_waiting(holding, *lane, deadline, busy=HeavyBusy(config.heavy_datasets))
        yield _take_waiting(
            holding, root / "slots", config.workers, root / "queue", config.queue, deadline
        )


POLL_SECONDS = 0.02  # how often a caller in a queue looks for a free slot


def _take_waiting(
    holding: contextlib.ExitStack,
    directory: Path,
    count: int,
    queue: Path,
    places: int,
    deadline: float,
    busy: Busy | None = None,
) -> Path:
    """One of `count` locks in `directory`, first come, first served: at once if nobody waits
    in `queue`, else after waiting in one of its `places` places until everyone who came earlier
    has been served and a lock is free. `busy` (ServiceBusy by default) if the queue is full or
    `deadline` passes. A caller who just finished a run and asks again goes behind the others."""
    if _ahead_of(queue, places, None) is None:
        taken = _take_any(holding, directory, count)
        if taken is not None:
            return taken
    with contextlib.ExitStack() as waiting:  # a place in the queue, given up on leaving
        place = _take_any(waiting, queue, places)
        if place is None:
            raise busy or ServiceBusy()
        ticket = _next_ticket(queue)
        mark = place.with_name(f"{place.name}.lock")
        mark.write_bytes(b"%d" % ticket)  # the lock is held: nobody else writes it now
        waiting.callback(mark.write_bytes, b"")  # runs before the lock is released
        if (note := _waiting_note.get()) is not None:  # where this learner waits, for the page
            note.write_text(f"{queue.name} {places} {count} {ticket}")
            waiting.callback(note.unlink, missing_ok=True)
        while True:
            if _ahead_of(queue, places, ticket) is None:
                taken = _take_any(holding, directory, count)
                if taken is not None:
                    return taken
            if time.monotonic() > deadline:
                raise busy or ServiceBusy()
            time.sleep(POLL_SECONDS)


@dataclass(frozen=True)
class QueueState:
    """Where a learner's run waits for a worker: how many runs were asked for before it and are
    still waiting, for how many workers, and roughly how long that takes."""

    ahead: int
    workers: int
    seconds: float


def queue_state(learner: str, config: Config | None = None) -> QueueState | None:
    """Where `learner`'s run waits in a queue now; None when it does not wait (running, shared
    with a run in flight, or no run at all)."""
    root = (config or Config.from_settings()).root
    try:
        name, places, workers, ticket = (
            (root / "learners" / f"{_hashed(learner)}.queued").read_text().split()
        )
        mine, count = int(ticket), int(places)
    except (OSError, ValueError):
        return None
    ahead = 0
    for index in range(count):
        with contextlib.suppress(OSError, ValueError):
            mark = (root / name / f"{index}.lock").read_bytes()
            ahead += mark.isdigit() and int(mark) < mine
    typical = _typical_run_seconds(root)
    return QueueState(ahead, int(workers), (ahead + 1) * typical / max(int(workers), 1))


def _typical_run_seconds(root: Path) -> float:
    try:
        return max(float((root / "run-seconds").read_text()), 0.01)
    except (OSError, ValueError):
        return 0.2


def _note_run_seconds(root: Path, seconds: float) -> None:
    """A moving average of how long runs hold a worker (races between writers only blur it)."""
    with contextlib.suppress(OSError):
        (root / "run-seconds").write_text(f"{0.8 * _typical_run_seconds(root) + 0.2 * seconds:.4f}")


def _next_ticket(queue: Path) -> int:
    """The next number of a counter every server process shares: the order callers came in."""
    fd = os.open(queue / "tickets", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            ticket = int(os.pread(fd, 32, 0) or b"0") + 1
        except ValueError:  # a damaged counter starts again
            ticket = 1
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"%d" % ticket, 0)
        return ticket
    finally:
        os.close(fd)


def _ahead_of(queue: Path, places: int, ticket: int | None) -> int | None:
    """The ticket of a caller waiting in `queue` who came before `ticket` (before anyone yet to
    come when None), or None. A place still marked by a caller who died is cleared on the way."""
    for index in range(places):
        path = queue / f"{index}.lock"
        try:
            mark = path.read_bytes()
        except FileNotFoundError:
            continue
        if not mark.isdigit() or (ticket is not None and int(mark) >= ticket):
            continue
        with _try_lock(path) as free:
            if not free:  # its holder is waiting
                return int(mark)
            path.write_bytes(b"")  # left by a caller who died waiting
    return None


def _take_any(stack: contextlib.ExitStack, directory: Path, count: int) -> Path | None:
    """Lock the first free one of `count` numbered lock files; the stack holds it."""
    for index in range(count):
        attempt = contextlib.ExitStack()
        if attempt.enter_context(_try_lock(directory / f"{index}.lock")):
            stack.push(attempt.__exit__)
            return directory / str(index)
        attempt.close()
    return None


@contextlib.contextmanager
def _try_lock(path: Path) -> Iterator[bool]:
    """An exclusive lock on `path` (a file), held for the context, or False if someone has it.
    The operating system releases it if the holder dies, so a crash never leaves a slot taken."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes] = open(path, "ab")  # noqa: SIM115 (held for the whole context)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        handle.close()


def _end_left_statements(
    files: dict[str, str], tag: str, pids: dict[str, list[int]] | None = None
) -> None:
    """Nothing a run started keeps running on a PostgreSQL server once its process is gone, and
    the run role is left as the next login needs it. `pids`: the backends of the connections the
    run reported it opened, per dataset (all on one server)."""
    alias = next((name for name in files if connections[name].vendor == "postgresql"), None)
    if alias is None:
        return
    connection = connections[alias]
    # If the server is away, the run's own result says so already.
    with contextlib.suppress(DatabaseError):
        if not connection.in_atomic_block:
            connection.close()  # log in anew: that is how a changed password shows
        try:
            connection.ensure_connection()
        except DatabaseError:
            with contextlib.suppress(Exception):  # the server is away, or cannot be repaired
                pgguard.restore_login(alias)
            connection.ensure_connection()
        pgguard.end_backends(alias, [pid for own in (pids or {}).values() for pid in own])
        pgguard.end_left_statements(alias, tag, settings.COURSE_PG_STATEMENT_SECONDS)
        pgguard.reset_run_role(alias)


# One run's steps, in order, as `RunResult.phases` names them: the server's own clock readings
# (slot taken, fork asked, report received, processes ended, reply decoded) around the run's
# (lessons.engine.child.sandbox's stamps).
PHASES = (
    "preparing the job",
    "forking from the warm process",
    "namespaces",
    "the worker's own fork",
    "database connections",
    "dataset copies",
    "the other walls",
    "limits and the audit hook",
    "the code",
    "capture and checks",
    "encoding and sending the reply",
    "exit and clean-up",
    "decoding the reply",
)
_RUN_STEPS = ("started", "namespaces", "forked", "connected", "walled", "ready", "ran")


def _phases(clock: dict[str, float], stamps: object, code: float) -> dict[str, float]:
    """Seconds per step of one run. The run's own stamps are believed only in order and between
    the fork and its report (a run can misplace its own steps, nothing else); without them, the
    run's part is one figure."""
    given = stamps if isinstance(stamps, dict) else {}
    copied = given.get("copied")
    steps = _in_order(
        [clock["forking"], *(given.get(step) for step in _RUN_STEPS), clock["reported"]]
    )
    split = {"preparing the job": clock["forking"] - clock["slot"]}
    if steps and isinstance(copied, float) and 0 <= copied <= steps[5] - steps[4]:
        forking, started, namespaces, forked, connected, walled, ready, ran, reported = steps
        split |= {
            "forking from the warm process": started - forking,
            "namespaces": namespaces - started,
            "the worker's own fork": forked - namespaces,
            "database connections": connected - forked,
            "dataset copies": copied,
            "the other walls": walled - connected - copied,
            "limits and the audit hook": ready - walled,
            "the code": min(code, ran - ready),
            "capture and checks": max(ran - ready - code, 0.0),
            "encoding and sending the reply": reported - ran,
        }
    else:
        split["the run"] = clock["reported"] - clock["forking"]
    split["exit and clean-up"] = clock["ended"] - clock["reported"]
    split["decoding the reply"] = clock["decoded"] - clock["ended"]
    return split


def _in_order(times: list[object]) -> list[float]:
    """The times as given if each is a number and none comes before the one before it, else []."""
    numbers = [t for t in times if isinstance(t, float)]
    return numbers if len(numbers) == len(times) and numbers == sorted(numbers) else []


def _run_in_slot(
    slot: Path, tasks: Sequence[Task | Explain], limits: Limits, *, slot_at: float
) -> list[Result]:
    # Every run gets fresh copies of its datasets in a scratch folder of its own, removed after:
    # whatever it does to them, and however it ends, no other run ever sees it.
    # The run makes them itself, inside its walls, from templates kept here.
    scratch = Path(tempfile.mkdtemp(prefix="course-run-"))
    files, copies = {}, {}
    for name in sorted({task.dataset for task in tasks}):
        if connections[name].vendor == "sqlite":
            copies[str(_template(slot.parent.parent / "datasets", name))] = f"{name}.sqlite3"
            files[name] = str(scratch / f"{name}.sqlite3")
        else:
            # On PostgreSQL nothing is copied (lessons.datasets.pgguard keeps runs from committing):
            # the run gets the database's name, which the tests change and a fresh worker would not
            # know.
            files[name] = str(connections[name].settings_dict["NAME"])
    job = Job(tuple(tasks), limits, files, _plan(scratch, copies, limits, slot))
    started = time.monotonic()
    clock = {"slot": slot_at, "forking": started}
    backends: dict[str, list[int]] = {}
    try:
        try:
            run = warm_process.fork(job)
        except warm_process.WarmProcessGone as exc:  # the next run starts a new warm process
            error = RunError("ServiceUnavailable", f"No worker could be started ({exc}).", None)
            return [_failed(task, error, 0.0) for task in tasks]
        try:
            deadline = started + limits.wall_seconds * len(tasks)
            if any(connections[name].vendor == "postgresql" for name in files):
                # Sent before any of the run's code: the pids of the only connections it can have.
                backends = _backends(run.channel, deadline)
            killed, cancelled = _wait_for_report(run.channel, deadline, _cancel_note.get())
            clock["reported"] = time.monotonic()
            message, peak = (None, None) if killed else _report(run.channel)
            if not killed:  # it exits as it reports: let it end by itself
                run.wait(timeout=1)
            _kill_group(run.pid)  # the run is over: nothing it started may stay
            run.wait(timeout=5)
        finally:
            run.close()
    finally:
        _end_left_statements(files, contract.run_tag(str(scratch)), backends)
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    clock["ended"] = time.monotonic()
    if message is not None and message.get("kind") == "ok":
        try:
            decoded = contract.decode_results(message, tasks, limits)
            clock["decoded"] = time.monotonic()
            code = sum(r.duration for r in decoded if isinstance(r, RunResult))
            phases = _phases(clock, message.get("phases"), code)
            for result in decoded:
                if isinstance(result, RunResult):
                    result.process_peak_memory = peak
                    result.phases = phases
            return [_explained(result, limits) for result in decoded]
        except contract.Malformed:
            message = {"kind": "malformed"}
    error = (
        RunError("Cancelled", "You cancelled the run: it was stopped.", None)
        if cancelled
        else _why_it_stopped(message, limits, killed)
    )
    failed = [_failed(task, error, elapsed) for task in tasks]
    for result in failed:
        if isinstance(result, RunResult):
            result.process_peak_memory = peak
    return failed


def _wait_for_report(
    receiver: Connection, deadline: float, cancel_note: Path | None
) -> tuple[bool, bool]:
    """(killed, cancelled): wait for the run's report until its deadline, or until its learner
    cancels it (the note appears)."""
    while True:
        if cancel_note is not None and cancel_note.exists():
            return True, True
        left = deadline - time.monotonic()
        if receiver.poll(max(min(left, CANCEL_LOOK_SECONDS), 0)):
            return False, False
        if left <= 0:
            return True, False


def _report(receiver: Connection) -> tuple[dict[str, Any] | None, int | None]:
    """The run's report (its results, or why it stopped) and its peak memory as its watcher read
    it from the kernel. Read until the channel closes, within a second: the code shares the
    channel and could send a "usage" of its own, so the largest figure is the one kept (a run can
    only make itself look bigger)."""
    report: dict[str, Any] | None = None
    peaks: list[int] = []
    deadline = time.monotonic() + USAGE_SECONDS
    while True:
        message = _receive(receiver)
        if message is None:
            break
        if message.get("kind") == "usage":
            peak = message.get("peak_memory")
            if type(peak) is int and 0 <= peak < contract.MAX_COUNT:
                peaks.append(peak)
        elif report is None:
            report = message
        if report is not None and not receiver.poll(max(deadline - time.monotonic(), 0)):
            break
    return report, max(peaks) if peaks else None


USAGE_SECONDS = 1.0  # the watcher reports as soon as the worker has exited


def _receive(receiver: Connection) -> dict[str, Any] | None:
    """The run's next message: JSON only, bounded and checked before it is believed, read without
    unpickling anything the run could have made (lessons.engine.reply)."""
    return reply.receive(receiver)


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _why_it_stopped(message: dict[str, Any] | None, limits: Limits, killed: bool) -> RunError:
    kind = message.get("kind") if message else None
    if killed:
        return RunError(
            "TimeLimit",
            f"The run took longer than {limits.wall_seconds:g} seconds and was stopped.",
            None,
        )
    if kind == "signal" and message and _out_of_cpu(message, limits):
        return RunError(
            "CPULimit",
            f"The run used more than {limits.cpu_seconds} seconds of CPU time and was stopped.",
            None,
        )
    if kind == "signal" and message and message.get("signal") == signal.SIGKILL:
        # Not the CPU limit's (its time was not up): the OOM killer, or someone outside the run.
        return RunError(
            "Killed",
            "The run was killed (SIGKILL) before it finished, most likely by the operating "
            "system because the machine ran short of memory.",
            None,
        )
    if kind == "crash" and message:
        return RunError("RunCrashed", f"The run could not finish: {message.get('message')}", None)
    if kind == "malformed":
        return RunError("RunCrashed", "The run sent back something that is not a result.", None)
    return RunError(
        "ProcessEnded",
        "The run's process ended before it reported back (did the code exit the process?).",
        None,
    )


def _out_of_cpu(message: dict[str, Any], limits: Limits) -> bool:
    """SIGXCPU is the CPU limit's own; SIGKILL is too when the run's CPU time was up (the hard
    limit, a second past the soft one, is enforced that way)."""
    number, cpu = message.get("signal"), message.get("cpu")
    if number == signal.SIGXCPU:
        return True
    spent = cpu if isinstance(cpu, int | float) and not isinstance(cpu, bool) else 0.0
    return number == signal.SIGKILL and spent >= limits.cpu_seconds


# How a full scratch folder shows in a run: the file system's ENOSPC, RLIMIT_FSIZE's EFBIG, or
# SQLite's own words for either.
_OUT_OF_SPACE = ("[Errno 28] ", "[Errno 27] ", "database or disk is full")


def _explained(result: Result, limits: Limits) -> Result:
    """Errors that are limits get a message saying so."""
    error = result.error
    if error is not None and error.type == "MemoryError":
        result.error = RunError(
            "MemoryLimit",
            f"The run used more than {limits.memory_mb} MB of memory and was stopped.",
            error.line,
        )
    elif error is not None and error.message.startswith(_OUT_OF_SPACE):
        result.error = RunError(
            "OutOfSpace",
            f"The run's scratch folder is full: it holds at most {limits.scratch_mb} MB, its "
            "dataset copies included.",
            error.line,
        )
    return result


def _failed(task: Task | Explain, error: RunError, elapsed: float) -> Result:
    if isinstance(task, Explain):
        return ExplainResult(dataset=task.dataset, error=error)
    return RunResult(dataset=task.dataset, duration=elapsed, error=error)


# Each worker slot's runs get a user id of their own, from COURSE_RUN_UID up: the check lane's
# slots after the others'.
_LANE_OFFSETS = {"slots": 0, "check-slots": 1000}


def _plan(
    scratch: Path, copies: dict[str, str], limits: Limits, slot: Path | None = None
) -> WallPlan:
    """The walls of one run, as far as the server decides them (the warm process knows which
    the kernel lets it build)."""
    uid = settings.COURSE_RUN_UID
    if slot is not None and slot.name.isdigit():
        uid += _LANE_OFFSETS.get(slot.parent.name, 2000) + int(slot.name)
    gid = uid
    hidden, keep = contract.run_folders()
    return WallPlan(
        scratch=str(scratch),
        hidden=hidden,
        keep=keep,
        scratch_mb=limits.scratch_mb,
        run_uid=uid,
        run_gid=gid,
        copies=copies,
    )


def _backends(receiver: Connection, deadline: float) -> dict[str, list[int]]:
    """The run's first message on PostgreSQL: its connections' backend pids, by alias."""
    if not receiver.poll(max(deadline - time.monotonic(), 0)):
        return {}
    message = _receive(receiver)
    if not message or message.get("kind") != "backends" or not isinstance(message["pids"], dict):
        return {}
    return {
        str(alias): [pid for pid in pids if isinstance(pid, int) and not isinstance(pid, bool)]
        for alias, pids in message["pids"].items()
        if isinstance(pids, list)
    }


def _template(templates: Path, name: str) -> Path:
    """The template of dataset `name` runs copy, made again whenever its source changes."""
    source = Path(connections[name].settings_dict["NAME"]).resolve()
    # SQLite in WAL mode may keep a reseed's writes in the -wal file and leave the main file's
    # size and time as they were: the stamp covers both files.
    stamp = ":".join(
        f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
        for path in (source, source.with_name(source.name + "-wal"))
        if (stat := _stat_or_none(path)) is not None
    )
    # Named after the source too: the test databases and the real ones never share a template.
    tag = hashlib.sha256(str(source).encode()).hexdigest()[:8]
    template = templates / f"{name}-{tag}.sqlite3"
    marker = templates / f"{name}-{tag}.source"
    templates.mkdir(parents=True, exist_ok=True)
    with open(templates / f"{name}-{tag}.lock", "ab") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process makes it, the others wait for it
        if not template.exists() or not marker.exists() or marker.read_text() != stamp:
            _copy_database(source, template)
            marker.write_text(stamp)
    return template


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _copy_database(source: Path, copy: Path) -> None:
    """SQLite's backup API: a consistent copy even while the source is open elsewhere."""
    partial = copy.with_name(copy.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)
        # WAL, as every connection of the course asks for: a copy opens without converting.
        dst.execute("PRAGMA journal_mode = WAL")
    partial.replace(copy)
