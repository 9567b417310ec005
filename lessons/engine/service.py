"""The run service: every run happens in a disposable worker process, never in a web thread.

A caller (a page, the API, a measurement) submits code and waits for the result with a deadline.
Across every process of the server (all gunicorn workers share var/), the service keeps:

- a bounded pool: at most `workers` runs at once, each holding a slot (a locked file);
- a short queue: at most `queue` callers waiting for a slot; beyond that the answer is "busy";
- one run in flight per learner;
- per slot, its own copy of each dataset, so no two runs ever share a database file (no locks
  between learners). Runs always roll back; a copy is refreshed when its dataset is reseeded
  and after a run that was killed.

Each run is forked from a warm process that already has Django set up (multiprocessing's
forkserver), so a run costs milliseconds and nothing one run patches survives it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import multiprocessing
import os
import shutil
import signal
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connections

from course.errors import Unavailable
from lessons.engine import sandbox
from lessons.engine.runner import RunError, RunResult
from lessons.engine.sandbox import Job, Limits, Task

RETRY_AFTER = 2  # seconds a busy answer asks the client to wait


class Busy(Unavailable):
    retry_after = RETRY_AFTER


class LearnerBusy(Busy):
    def __init__(self) -> None:
        super().__init__("Your previous run is still going. Wait for it, then try again.")


class ServiceBusy(Busy):
    def __init__(self) -> None:
        super().__init__("The course is busy running other learners' code. Try again in a moment.")


class CodeTooLong(Unavailable):
    status = 413


@dataclass(frozen=True)
class Config:
    workers: int
    queue: int
    queue_wait: float  # seconds a caller may wait in the queue for a slot
    limits: Limits
    course_factor: int  # course snippets get this many times the learner limits
    root: Path

    @classmethod
    def from_settings(cls) -> Config:
        return cls(
            workers=settings.COURSE_RUN_WORKERS,
            queue=settings.COURSE_RUN_QUEUE,
            queue_wait=settings.COURSE_RUN_QUEUE_WAIT,
            limits=Limits(
                cpu_seconds=settings.COURSE_RUN_CPU_SECONDS,
                memory_mb=settings.COURSE_RUN_MEMORY_MB,
                wall_seconds=settings.COURSE_RUN_WALL_SECONDS,
                max_statements=settings.COURSE_RUN_MAX_STATEMENTS,
                max_code_chars=settings.COURSE_RUN_MAX_CODE_CHARS,
            ),
            course_factor=settings.COURSE_RUN_COURSE_FACTOR,
            root=Path(settings.VAR_DIR) / "run",
        )


_context_lock = threading.Lock()
_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    """One warm process per server process, started on first use."""
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["lessons.engine.warm"])
            _context = context
        return _context


def start() -> None:
    """Start the warm process now rather than on the first run (servers call this at start)."""
    from multiprocessing import forkserver

    _forkserver()
    forkserver.ensure_running()


def run(
    tasks: list[Task],
    *,
    learner: str,
    course_code: bool = False,
    config: Config | None = None,
) -> list[RunResult]:
    """Run `tasks` one after the other in one worker; Busy if the service cannot take them now."""
    config = config or Config.from_settings()
    limits = config.limits.scaled(config.course_factor) if course_code else config.limits
    for task in tasks:
        if len(task.code) > limits.max_code_chars:
            raise CodeTooLong(
                f"The code is {len(task.code):,} characters long; a run takes at most "
                f"{limits.max_code_chars:,}."
            )
    root = config.root
    root.mkdir(parents=True, exist_ok=True)
    with _learner_lock(root, learner), _slot(root, config) as slot:
        return _run_in_slot(slot, tasks, limits)


@contextlib.contextmanager
def _learner_lock(root: Path, learner: str) -> Iterator[None]:
    name = hashlib.sha256(learner.encode()).hexdigest()[:24]
    with _try_lock(root / "learners" / name) as held:
        if not held:
            raise LearnerBusy()
        yield


@contextlib.contextmanager
def _slot(root: Path, config: Config) -> Iterator[Path]:
    """A free slot directory, waiting in the queue for at most `queue_wait` seconds."""
    with contextlib.ExitStack() as holding:
        slot = _take_any(holding, root / "slots", config.workers)
        if slot is None:
            with contextlib.ExitStack() as waiting:  # a place in the queue, given up on leaving
                if _take_any(waiting, root / "queue", config.queue) is None:
                    raise ServiceBusy()
                deadline = time.monotonic() + config.queue_wait
                while slot is None:
                    if time.monotonic() > deadline:
                        raise ServiceBusy()
                    time.sleep(0.02)
                    slot = _take_any(holding, root / "slots", config.workers)
        yield slot


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


def _run_in_slot(slot: Path, tasks: list[Task], limits: Limits) -> list[RunResult]:
    slot.mkdir(parents=True, exist_ok=True)
    files = _dataset_copies(slot, {task.dataset for task in tasks})
    scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=slot))
    job = Job(tuple(tasks), limits, files, str(scratch))
    context = _forkserver()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=sandbox.child_main, args=(job, sender), daemon=True)
    started = time.monotonic()
    try:
        process.start()
        sender.close()
        deadline = limits.wall_seconds * len(tasks)
        killed = not receiver.poll(deadline)
        message = None if killed else _receive(receiver)
        if killed:
            _kill_group(process.pid)
        process.join(timeout=5)
        if process.is_alive():
            _kill_group(process.pid)
            process.join()
    finally:
        receiver.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if killed or message is None or message[0] != "ok":
        _forget_copies(slot)  # whatever the process was doing, start the next run afresh
        error = _why_it_stopped(process.exitcode, message, limits, killed)
        return [_failed(task, error, time.monotonic() - started) for task in tasks]
    return [_explained(result, limits) for result in message[1]]


def _receive(receiver: Connection) -> tuple[str, Any] | None:
    try:
        message: tuple[str, Any] = receiver.recv()
    except (EOFError, OSError):  # the process died without a word (a limit's signal, os._exit)
        return None
    return message


def _kill_group(pid: int | None) -> None:
    if pid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _why_it_stopped(
    exitcode: int | None, message: tuple[str, Any] | None, limits: Limits, killed: bool
) -> RunError:
    if killed:
        return RunError(
            "TimeLimit",
            f"The run took longer than {limits.wall_seconds:g} seconds and was stopped.",
            None,
        )
    if exitcode == -signal.SIGXCPU or exitcode == -signal.SIGKILL:
        return RunError(
            "CPULimit",
            f"The run used more than {limits.cpu_seconds} seconds of CPU time and was stopped.",
            None,
        )
    if message is not None and message[0] == "crash":
        return RunError("RunCrashed", f"The run could not finish: {message[1]}", None)
    return RunError(
        "ProcessEnded",
        "The run's process ended before it reported back (did the code exit the process?).",
        None,
    )


def _explained(result: RunResult, limits: Limits) -> RunResult:
    """Errors that are limits get a message saying so."""
    if result.error is not None and result.error.type == "MemoryError":
        result.error = RunError(
            "MemoryLimit",
            f"The run used more than {limits.memory_mb} MB of memory and was stopped.",
            result.error.line,
        )
    return result


def _failed(task: Task, error: RunError, elapsed: float) -> RunResult:
    return RunResult(dataset=task.dataset, duration=elapsed, error=error)


def _dataset_copies(slot: Path, names: set[str]) -> dict[str, str]:
    """This slot's own copy of each dataset, made again when the source has changed."""
    copies = {}
    for name in sorted(names):
        source = Path(connections[name].settings_dict["NAME"]).resolve()
        stat = source.stat()
        stamp = f"{source}:{stat.st_mtime_ns}:{stat.st_size}"
        # Named after the source too: the test databases and the real ones never share a copy.
        tag = hashlib.sha256(str(source).encode()).hexdigest()[:8]
        copy = slot / f"{name}-{tag}.sqlite3"
        marker = slot / f"{name}-{tag}.source"
        if not copy.exists() or not marker.exists() or marker.read_text() != stamp:
            _copy_database(source, copy)
            marker.write_text(stamp)
        copies[name] = str(copy)
    return copies


def _copy_database(source: Path, copy: Path) -> None:
    """SQLite's backup API: a consistent copy even while the source is open elsewhere."""
    partial = copy.with_name(copy.name + ".partial")
    partial.unlink(missing_ok=True)
    with (
        contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(partial)) as dst,
    ):
        src.backup(dst)
    for suffix in ("-wal", "-shm"):
        copy.with_name(copy.name + suffix).unlink(missing_ok=True)
    partial.replace(copy)


def _forget_copies(slot: Path) -> None:
    for marker in slot.glob("*.source"):
        marker.unlink(missing_ok=True)


__all__ = ["Busy", "CodeTooLong", "Config", "Task", "run"]
