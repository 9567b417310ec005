"""The inside of one run: a disposable process forked from a warm one, with limits set, an audit
hook that refuses what a run has no business doing, and the datasets pointed at this worker's own
copies. It runs the code (lessons.engine.runner), sends the result back and exits.

Everything here happens in the child; lessons.engine.service is the parent's side.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.machinery import EXTENSION_SUFFIXES
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import django

MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    memory_mb: int = 512
    wall_seconds: float = 10.0
    max_statements: int = 20_000
    max_code_chars: int = 20_000

    def scaled(self, factor: int) -> Limits:
        """More room for the course's own snippets, which must finish on the large dataset."""
        return Limits(
            self.cpu_seconds * factor,
            self.memory_mb * factor,
            self.wall_seconds * factor,
            self.max_statements,
            self.max_code_chars,
        )


@dataclass(frozen=True)
class Task:
    code: str
    dataset: str
    measure_memory: bool = False


@dataclass(frozen=True)
class Job:
    tasks: tuple[Task, ...]
    limits: Limits
    dataset_files: dict[str, str]  # dataset alias -> this worker's own copy
    scratch: str  # the one directory a run may write files in
    extra: dict[str, Any] = field(default_factory=dict)


class Refused(PermissionError):
    """Raised inside a run for something the sandbox does not allow."""


def warm_up() -> None:
    """Run once in the warm process every run is forked from: Django set up, modules imported."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "course.settings")
    django.setup()
    import asyncio  # noqa: F401  (async snippets; imported before the audit hook is in place)

    from django.db import connections

    import lessons.engine.runner
    import lessons.engine.tamper  # noqa: F401

    for alias in connections:
        connections[alias]  # imports each database backend now, not inside a run


def child_main(job: Job, channel: Connection) -> None:
    """The run process: never returns (os._exit), so no thread or handler a run left survives."""
    try:
        os.setsid()  # its own process group: the parent can kill everything it started
        warm_up()
        _limit_resources(job.limits)
        _use_own_datasets(job.dataset_files)
        os.chdir(job.scratch)
        from lessons.engine import runner
        from lessons.engine.tamper import Seal

        seal = Seal()
        sys.dont_write_bytecode = True  # an import inside a run must not try to write .pyc files
        sys.addaudithook(_audit_hook(job))
        results = []
        for task in job.tasks:
            result = runner.run_code(
                task.code,
                task.dataset,
                measure_memory=task.measure_memory,
                max_statements=job.limits.max_statements,
            )
            seal.check(result)
            results.append(result)
        channel.send(("ok", results))
    except BaseException as exc:  # report anything, then leave
        with contextlib.suppress(BaseException):
            channel.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        os._exit(0)


def _limit_resources(limits: Limits) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    # Address space counts what the warm process already mapped: the limit is on top of it.
    baseline = _address_space()
    memory = baseline + limits.memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _address_space() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 256 * MB


def _use_own_datasets(files: dict[str, str]) -> None:
    from django.db import connections

    for alias, path in files.items():
        connection = connections[alias]
        connection.close()
        connection.settings_dict["NAME"] = path


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
    databases = {str(Path(path).resolve()) for path in job.dataset_files.values()}

    def refuse(what: str) -> None:
        raise Refused(f"{what} is not allowed in a run.")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith(_PROCESS_EVENTS):
            refuse("Starting a process")
        elif event in ("os.kill", "os.killpg", "signal.pthread_kill"):
            refuse("Sending a signal")
        elif event in _NETWORK_EVENTS or (
            # asyncio's event loop wakes itself through a local socket pair: allowed.
            event == "socket.__new__" and len(args) > 1 and args[1] not in (-1, socket.AF_UNIX)
        ):
            refuse("Opening a network connection")
        elif event.startswith("ctypes.") or event in ("mmap.__new__",):
            refuse("Loading native code")
        elif event == "import" and _is_foreign_extension(args):
            refuse(f"Loading the native module {args[0]!r}")
        elif event == "open" and _writes(args) and not _inside(args[0], scratch):
            refuse(f"Writing to {str(args[0])[:80]!r}")
        elif event in ("os.remove", "os.rmdir", "os.rename", "shutil.rmtree", "os.truncate"):
            if not _inside(args[0], scratch):
                refuse("Changing files")
        elif event == "sqlite3.connect" and str(Path(str(args[0])).resolve()) not in databases:
            refuse("Opening another database")
        elif event == "sys.addaudithook":
            refuse("Adding an audit hook")

    return hook


# The standard library's own compiled modules (json, decimal, asyncio...) may load; anything
# else compiled, and ctypes, may not.
_STDLIB_NATIVE = Path(sysconfig.get_paths()["platstdlib"]) / "lib-dynload"
_NEVER_NATIVE = {"_ctypes", "_cffi_backend"}


def _is_foreign_extension(args: tuple[Any, ...]) -> bool:
    name, filename = args[0], (args[1] if len(args) > 1 else None)
    if not isinstance(filename, str) or not filename.endswith(tuple(EXTENSION_SUFFIXES)):
        return False
    return name in _NEVER_NATIVE or not Path(filename).is_relative_to(_STDLIB_NATIVE)


def _writes(args: tuple[Any, ...]) -> bool:
    mode, flags = (args[1] if len(args) > 1 else None), (args[2] if len(args) > 2 else 0)
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _inside(path: object, directory: Path) -> bool:
    if isinstance(path, int):  # an already open file descriptor
        return False
    try:
        return Path(os.fsdecode(path)).resolve().is_relative_to(directory)  # type: ignore[arg-type]
    except (TypeError, ValueError, OSError):
        return False
