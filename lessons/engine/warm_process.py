"""The warm process, from the server's side: started on first use (or at the server's start),
asked to fork each run, started again when it is gone or when asked to (`restart`).

Each server process has one, a program of its own (`python -m lessons.engine.child`, see
lessons.engine.child.warm) that the server owns: started with `subprocess`, connected by a
socket pair of which it gets one end. It has no address, so nothing but this server can ask it
for a run; it never runs the server's main script (gunicorn's, pytest's, manage.py), which
multiprocessing would run again in every process it starts.

Its environment is the server's without the secrets, which the settings have read already: a new
program keeps the first copy of its environment in memory, whatever it later does to os.environ,
and runs are forked from it. It gets a placeholder key instead, so its settings never read the
real one from var/ either.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import select
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from lessons.engine.contract import LENGTH, Job, read_exactly

# Secrets the server may have in its environment.
SECRET_VARIABLES = ("COURSE_SECRET_KEY", "DJANGO_SECRET_KEY")
PLACEHOLDER_KEY = "runs-have-no-secret-key"
# How long the server waits for the warm process to take a job: the first one waits for its
# set-up (Django, the walls), a second or two on a busy machine.
ANSWER_SECONDS = 60.0


class WarmProcessGone(OSError):
    """The warm process could not take the job: it died, or could not start."""


@dataclass
class Fork:
    """One run's first process (its watcher), forked by the warm process for a job."""

    pid: int
    channel: Connection  # the run's messages (lessons.engine.reply reads them)
    ended: int = field(repr=False)  # a pipe only the watcher holds open: readable once it ended

    def wait(self, timeout: float) -> bool:
        """Whether the watcher has ended, waiting for it at most `timeout` seconds."""
        poller = select.poll()
        poller.register(self.ended, select.POLLIN)
        return bool(poller.poll(max(timeout, 0.0) * 1000))

    def close(self) -> None:
        self.channel.close()
        os.close(self.ended)


class WarmProcess:
    """The warm process of this server process, started when first needed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one request at a time on the socket pair
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._owner = 0  # the server process that started it (a fork of the server starts its own)
        self.forked = 0  # runs the running warm process has forked, as it counts them

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        with self._lock:
            self._start()

    def stop(self) -> None:
        """Stop the warm process; runs it forked go on to their end."""
        with self._lock:
            self._stop()

    def fork(self, job: Job) -> Fork:
        """A run of `job`, forked from the warm process (started first if need be).
        WarmProcessGone if it cannot take the job; the next call starts a new one."""
        payload = pickle.dumps(job)
        receiver, sender = multiprocessing.Pipe(duplex=False)
        ended, ended_for_run = os.pipe()
        try:
            with self._lock:
                self._start()
                assert self._control is not None
                try:
                    head = LENGTH.pack(len(payload))
                    descriptors = [sender.fileno(), ended_for_run]
                    sent = socket.send_fds(self._control, [head], descriptors)
                    self._control.sendall(head[sent:] + payload)
                    answer = read_exactly(self._control, 2 * LENGTH.size)
                    (pid,), (self.forked,) = LENGTH.unpack(answer[:8]), LENGTH.unpack(answer[8:])
                except OSError as exc:
                    self._stop()
                    raise WarmProcessGone(f"the warm process is gone: {exc}") from exc
        except BaseException:
            receiver.close()
            os.close(ended)
            raise
        finally:
            sender.close()  # the run has its own copies now, or there is no run
            os.close(ended_for_run)
        return Fork(pid, receiver, ended)

    def _start(self) -> None:
        if self._owner != os.getpid():  # inherited through a fork of the server: not ours to use
            self._process, self._control = None, None
        if self._process is not None and self._process.poll() is None:
            return
        self._stop()
        ours, theirs = socket.socketpair()
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "lessons.engine.child", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                env=_environment(),
                stdin=subprocess.DEVNULL,
            )
        except OSError as exc:
            ours.close()
            raise WarmProcessGone(f"the warm process could not start: {exc}") from exc
        finally:
            theirs.close()
        ours.settimeout(ANSWER_SECONDS)
        self._control, self._owner = ours, os.getpid()

    def _stop(self) -> None:
        if self._control is not None:
            self._control.close()  # it leaves when its end closes...
            self._control = None
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()  # ...or now, if it is still setting up
            self._process.wait()
            self._process = None


def _environment() -> dict[str, str]:
    environment = {
        name: value for name, value in os.environ.items() if name not in SECRET_VARIABLES
    }
    environment["COURSE_SECRET_KEY"] = PLACEHOLDER_KEY
    environment.setdefault("DJANGO_SETTINGS_MODULE", "course.settings")
    # The server's import path, so the warm process imports the same course the server does.
    environment["PYTHONPATH"] = os.pathsep.join(path for path in sys.path if path)
    return environment


_warm = WarmProcess()


def start() -> None:
    """Start this server process's warm process now, if it is not running."""
    _warm.start()


def restart() -> None:
    """Stop the warm process: the next run starts a new one."""
    _warm.stop()


def fork(job: Job) -> Fork:
    return _warm.fork(job)


def forked() -> int:
    """How many runs this server process's warm process has forked, by its own count (the run
    service's tests count executions with it)."""
    return _warm.forked


def pid() -> int | None:
    """The warm process's pid, while one is running."""
    return _warm.pid
