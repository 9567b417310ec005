"""The inside of one run: a disposable process forked from a warm one, with limits set, an audit
hook that refuses what a run has no business doing, and the datasets pointed at this worker's own
copies. It runs the code (lessons.engine.child.runner), sends the results back
(lessons.engine.contract.encode_result) and exits.

Everything here happens in the child; lessons.engine.service is the parent's side.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import site
import socket
import sys
import sysconfig
import time
from collections.abc import Callable
from dataclasses import replace
from importlib.machinery import EXTENSION_SUFFIXES
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

from lessons.engine.child import confine
from lessons.engine.contract import (
    Explain,
    Job,
    Limits,
    Task,
    WallPlan,
    encode_result,
    run_tag,
)

MB = 1024 * 1024
RUN_NICENESS = 10


class Refused(PermissionError):
    """Raised inside a run for something the sandbox does not allow."""


def child_main(job: Job, channel: Connection, walls: frozenset[str]) -> None:
    """The run's processes, forked from the warm process (lessons.engine.child.warm), which built
    `walls` for it. This one watches; where the server may, it first walls the run in
    (lessons.engine.child.confine) and the watcher is the first process of the run's own PID
    namespace, so when it leaves, the kernel kills whatever the run started. Never returns
    (os._exit)."""
    _stamp("started")
    try:
        os.setsid()  # its own process group: the parent can kill everything it started
        # Runs yield the CPU to the web server, so pages stay quick while code runs.
        os.nice(RUN_NICENESS)
        plan = replace(job.plan, walls=walls)
        confine.enter_namespaces(plan.walls)
        _stamp("namespaces")
        base = _resident_bytes()  # the worker starts with this process's pages
        worker = os.fork()  # walled: the first process of the new PID namespace
        if worker == 0:
            _work(job, plan, channel)
        _, status, usage = os.wait4(worker, 0)
        # The kernel's account of the worker's memory: measured here, where its code cannot reach.
        peak = max(usage.ru_maxrss * 1024 - base, 0)
        _send(channel, {"kind": "usage", "peak_memory": peak})
        if os.WIFSIGNALED(status):
            cpu = usage.ru_utime + usage.ru_stime
            _send(channel, {"kind": "signal", "signal": os.WTERMSIG(status), "cpu": cpu})
        elif os.WEXITSTATUS(status) != 0:
            _send(channel, {"kind": "exit", "code": os.WEXITSTATUS(status)})
    except BaseException as exc:  # report anything, then leave
        _send(channel, {"kind": "crash", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        os._exit(0)


def _resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _work(job: Job, plan: WallPlan, channel: Connection) -> None:
    """The process that runs the code: its own datasets, the walls, limits, the audit hook, then
    each task: code through the runner, a statement's plan through lessons.engine.child.plans."""
    _stamp("forked")
    try:
        _use_own_datasets(job.dataset_files, run_tag(job.scratch))
        # The database connections a run may use are opened before the walls, which allow no new
        # one; the service is told their server-side pids now, before any of the run's code, so
        # it can end them afterwards whatever the code did to them.
        backends = _open_postgresql(job)
        if backends:
            _send(channel, {"kind": "backends", "pids": backends})
        _close_inherited(keep={channel.fileno(), *_database_sockets()})
        _stamp("connected")
        confine.wall_in(plan)
        _stamp("walled")
        global _no_new_sockets
        _no_new_sockets = "seccomp" in plan.walls
        _limit_resources(job.limits, plan)
        os.chdir(job.scratch)
        _silence_standard_streams()
        from lessons.engine.child import plans, runner
        from lessons.engine.child.tamper import Seal

        seal = Seal()
        sys.dont_write_bytecode = True  # an import inside a run must not try to write .pyc files
        sys.addaudithook(_audit_hook(job))
        _stamp("ready")
        results = []
        for task in job.tasks:
            if isinstance(task, Explain):
                results.append(encode_result(plans.explain(task)))
                continue
            result = runner.run_code(
                task.code,
                task.dataset,
                measure_memory=task.measure_memory,
                max_statements=job.limits.max_statements,
                fail_on_write=task.fail_on_write,
            )
            seal.check(result)
            results.append(encode_result(result))
        _stamp("ran")
        _stamps["copied"] = confine.copy_seconds
        _send(channel, {"kind": "ok", "results": results, "phases": _stamps})
    except BaseException as exc:
        _send(channel, {"kind": "crash", "message": f"{type(exc).__name__}: {exc}"})
    finally:
        os._exit(0)


# When each step of the run was reached (time.monotonic(), which every process of the machine
# shares), for the service's account of where a run's time goes (lessons.engine.contract.phases).
_stamps: dict[str, float] = {}


def _stamp(name: str) -> None:
    _stamps[name] = time.monotonic()


def _close_inherited(keep: set[int]) -> None:
    """Close every descriptor the run inherited but its reply channel and its database
    connections: the warm process's own (its channel to the server among them), and the pipe
    that tells the server the watcher has ended."""
    for name in os.listdir("/proc/self/fd"):
        descriptor = int(name)
        if descriptor > 2 and descriptor not in keep:
            with contextlib.suppress(OSError):  # the listing's own, already closed
                os.close(descriptor)


def _database_sockets() -> list[int]:
    from django.db import connections

    sockets = [spare.fileno() for spares in _spares.values() for spare in spares]
    for alias in connections:
        connection = connections[alias]
        if connection.vendor == "postgresql" and connection.connection is not None:
            sockets.append(connection.connection.fileno())
    return sockets


def _send(channel: Connection, message: dict[str, Any]) -> None:
    """Plain JSON, never a pickle: the server reads it without running anything the run made."""
    with contextlib.suppress(BaseException):
        channel.send_bytes(json.dumps(message).encode())


def _silence_standard_streams() -> None:
    """A run prints through its own bounded `print`; the server's terminal is not its to use."""
    null = os.open(os.devnull, os.O_RDWR)
    for stream in (0, 1, 2):
        os.dup2(null, stream)
    os.close(null)


# Processes and threads of the run's user (its slot's own, where the server is root), and open
# files per process: together they bound the kernel memory a run can hold in socket buffers and
# the like, which the address-space limit does not count.
RUN_PROCESSES = 64
RUN_OPEN_FILES = 128


def _limit_resources(limits: Limits, plan: WallPlan) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    # Address space counts what the warm process already mapped: the limit is on top of it.
    baseline = _address_space()
    memory = baseline + limits.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # No file a run writes grows past its scratch space, tmpfs or not; past it, a write fails
    # with EFBIG (the signal that would kill the process instead is ignored).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    size = plan.scratch_mb * MB
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_NOFILE, (RUN_OPEN_FILES, RUN_OPEN_FILES))
    if "user" in plan.walls and os.getuid() == plan.run_uid != 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (RUN_PROCESSES, RUN_PROCESSES))


def _address_space() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 256 * MB


def _use_own_datasets(files: dict[str, str], tag: str) -> None:
    from django.db import connections

    for alias, path in files.items():
        connection = connections[alias]
        connection.close()
        connection.settings_dict["NAME"] = path  # a file's path on SQLite, a name on PostgreSQL
        if connection.vendor == "sqlite":
            from lessons.datasets.guards import GuardedConnection

            connection.settings_dict.setdefault("OPTIONS", {})["factory"] = GuardedConnection
        if connection.vendor == "postgresql":
            options = connection.settings_dict.setdefault("OPTIONS", {})
            options["application_name"] = tag
    for alias in connections:
        wrapper = type(connections[alias])
        if wrapper.vendor == "postgresql" and not hasattr(wrapper, "_course_unguarded"):
            # libpq opens its connections where the audit hook cannot see them: refuse here the
            # server's other databases (the course's own tables, the other datasets). On the
            # class, so a connection a thread of the run opens is refused too.
            wrapper._course_unguarded = wrapper.get_new_connection  # type: ignore[attr-defined]
            wrapper.get_new_connection = _only_datasets(set(files))  # type: ignore[method-assign]


def _only_datasets(allowed: set[str]) -> Callable[..., Any]:
    def get_new_connection(self: Any, conn_params: Any) -> Any:
        if self.alias not in allowed:
            raise Refused("Opening another database is not allowed in a run.")
        if _spares.get(self.alias):
            return _spares[self.alias].pop()
        if _no_new_sockets:
            raise Refused(
                "Opening another database connection is not allowed in a run: it has the ones "
                "it was given (another_worker(work) runs work on a second one)."
            )
        return self._course_unguarded(conn_params)

    return get_new_connection


# Connections opened before the walls for a second worker (another_worker) to take: the system
# call filter lets a run open no new one, and says so through this flag.
_spares: dict[str, list[Any]] = {}
_no_new_sockets = False


def _open_postgresql(job: Job) -> dict[str, list[int]]:
    """Open the run's PostgreSQL connections now (and one spare for `another_worker`, in code
    that names it); their backend pids, per dataset alias."""
    from django.db import connections

    wants_spare = any(
        isinstance(task, Task) and "another_worker" in task.code for task in job.tasks
    )
    pids: dict[str, list[int]] = {}
    for alias in job.dataset_files:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            continue
        connection.ensure_connection()
        pids[alias] = [connection.connection.info.backend_pid]
        if wants_spare:
            spare = connection.get_new_connection(connection.get_connection_params())
            _spares[alias] = [spare]
            pids[alias].append(spare.info.backend_pid)
    return pids


_PROCESS_EVENTS = (
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.fork",
    "os.forkpty",
    "subprocess.Popen",
    "pty.spawn",
)
_NETWORK_EVENTS = ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _audit_hook(job: Job) -> Callable[[str, tuple[Any, ...]], None]:
    """Refuse process creation, signals, network sockets, native code, other databases and file
    writes outside the scratch directory. Reading files stays allowed: Django reads its own."""
    scratch = Path(job.scratch).resolve()
    # SQLite files only (absolute paths): a PostgreSQL dataset is a database name.
    databases = {
        str(Path(p).resolve()) for p in job.dataset_files.values() if Path(p).is_absolute()
    }

    def refuse(what: str) -> None:
        raise Refused(f"{what} is not allowed in a run.")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith(_PROCESS_EVENTS):
            refuse("Starting a process")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            refuse("Sending a signal")
        elif event in _NETWORK_EVENTS or (
            # asyncio's event loop wakes itself through a local socket pair: allowed (and so by
            # the system call filter, which refuses every other socket).
            event == "socket.__new__" and len(args) > 1 and not _socket_pair(args[1])
        ):
            refuse("Opening a network connection")
        elif event.startswith("ctypes.") or event in ("mmap.__new__",):
            refuse("Loading native code")
        elif event == "import" and _is_foreign_extension(args):
            refuse(f"Loading the native module {args[0]!r}")
        elif event == "open" and _writes(args) and not _writable_here(args[0], scratch):
            refuse(f"Writing to {str(args[0])[:80]!r}")
        elif event in _FILE_EVENTS:
            paths = args[: _FILE_EVENTS[event]]
            if not all(_inside(path, scratch) for path in paths):
                refuse("Changing files")
        elif event == "sqlite3.connect" and str(Path(str(args[0])).resolve()) not in databases:
            refuse("Opening another database")
        elif event == "sys.addaudithook":
            refuse("Adding an audit hook")

    return hook


def _socket_pair(family: object) -> bool:
    """A socket object made by socket.socketpair(), which wraps the connected pair it made."""
    if family not in (-1, socket.AF_UNIX):
        return False
    frame: FrameType | None = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            break
        if frame.f_code.co_name == "socketpair" and frame.f_code.co_filename == socket.__file__:
            return True
        frame = frame.f_back
    return False


# Compiled modules that come with Python or with the installed packages (json, decimal,
# markupsafe...) may load; one from anywhere else (a file the run wrote), and ctypes, may not.
_INSTALLED_NATIVE = tuple(
    Path(folder).resolve()
    for folder in {
        str(Path(os.__file__).parent / "lib-dynload"),  # the base Python's, in a venv or not
        *sysconfig.get_paths().values(),
        *site.getsitepackages(),
    }
)
_NEVER_NATIVE = {"_ctypes", "_cffi_backend"}


def _is_foreign_extension(args: tuple[Any, ...]) -> bool:
    name, filename = args[0], (args[1] if len(args) > 1 else None)
    if not isinstance(filename, str) or not filename.endswith(tuple(EXTENSION_SUFFIXES)):
        return False
    path = Path(filename).resolve()
    return name in _NEVER_NATIVE or not any(path.is_relative_to(f) for f in _INSTALLED_NATIVE)


def _writes(args: tuple[Any, ...]) -> bool:
    mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


# Events that change files, with how many of their first arguments are paths to check.
_FILE_EVENTS = {
    "os.remove": 1,
    "os.rmdir": 1,
    "os.truncate": 1,
    "os.chmod": 1,
    "os.chown": 1,
    "os.chflags": 1,
    "os.mkdir": 1,
    "os.utime": 1,
    "os.mkfifo": 1,
    "os.mknod": 1,
    "shutil.rmtree": 1,
    "os.rename": 2,
    "os.link": 2,
    "os.symlink": 2,
}


def _writable_here(path: object, scratch: Path) -> bool:
    """Inside scratch, and not a hard link to a file elsewhere."""
    if not _inside(path, scratch):
        return False
    try:
        return os.stat(os.fsdecode(path)).st_nlink <= 1  # type: ignore[arg-type]
    except (OSError, TypeError, ValueError):
        return True  # a new file


def _inside(path: object, directory: Path) -> bool:
    if isinstance(path, int):  # an already open file descriptor
        return False
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(directory)  # type: ignore[arg-type]
    except (TypeError, ValueError, OSError):
        return False
