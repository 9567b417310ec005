"""The warm process: set up once, then fork one run per request.

The server starts it (lessons.engine.warm_process) as a program of its own, `python -m
lessons.engine.child`, so it never runs the server's main script (gunicorn's, pytest's,
manage.py). It sets Django up, imports what runs use and builds what every run shares (the
network namespace, the system call filter), so a run forked from it starts in milliseconds.

It talks to the server through one end of a socket pair the server made for it, and to nothing
else: it has no address anyone could connect to. Each request is a length, the job (pickled: it
comes from the server, which the warm process trusts) and two descriptors, the write end of the
run's reply channel and the write end of a pipe the server watches to learn that the run's first
process has ended. The answer is that process's pid, and how many runs it has forked. When the
server's end closes (the server exited, or started another warm process), this one leaves too.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import socket
from multiprocessing.connection import Connection
from types import FrameType

import django

from lessons.engine.child import confine, sandbox
from lessons.engine.contract import LENGTH, Job, read_exactly, run_folders

# The warm process's end of its channel to the server, as (device, inode): a run checks it has no
# descriptor of it (tests/test_walls.py).
control_socket: tuple[int, int] | None = None


def serve(control: socket.socket) -> None:
    """Warm up, then answer the server's requests until it closes its end."""
    global control_socket
    control_socket = _identity(control)
    # Ctrl-C in the server's terminal is the server's to handle: this process ends with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    walls = warm_up()
    # Runs that end are reaped at once, so their CPU time counts as this process's children's.
    signal.signal(signal.SIGCHLD, _reap)
    forked = 0  # runs forked so far: the server reads it to know how many really ran
    while (request := _request(control)) is not None:
        job, channel, ended = request
        pid = os.fork()
        if pid == 0:
            _run(control, job, channel, walls)
        forked += 1
        os.close(channel)
        os.close(ended)
        control.sendall(LENGTH.pack(pid) + LENGTH.pack(forked))


def _identity(control: socket.socket) -> tuple[int, int]:
    stat = os.fstat(control.fileno())
    return stat.st_dev, stat.st_ino


def warm_up() -> frozenset[str]:
    """Django set up and modules imported; the walls every run forked from here gets."""
    django.setup()
    import asyncio  # noqa: F401  (async snippets; imported before the audit hook is in place)

    from django.db import connections
    from django.test import utils  # noqa: F401  (CaptureQueriesContext, used by lessons)

    import lessons.engine.child.plans
    import lessons.engine.child.runner
    import lessons.engine.child.tamper  # noqa: F401

    for alias in connections:
        connections[alias]  # imports each database backend now, not inside a run
        _rehearse(alias)
    connections.close_all()  # no run may inherit a connection to the real datasets
    walls = _build_walls()
    # What is built so far lives as long as the process: out of the collector's sight, a run's
    # collections look only at the run's own objects. They are cheap then, and frequent, so the
    # model instances a run has dropped are counted as gone soon after (capture.Instances).
    gc.collect()
    gc.freeze()
    return walls


def _build_walls() -> frozenset[str]:
    """Tried once here, so every run forked from here knows which walls it gets; the network
    namespace and the system call filter are made here once, for all of them."""
    from django.conf import settings

    walls = set(confine.available_walls(settings.COURSE_RUN_WALLS))
    if "network" in walls and not confine.leave_network():
        walls.discard("network")
    if "seccomp" in walls:
        confine.prepare_filter()
    confine.prepare_paths(*run_folders())
    return frozenset(walls)


def _rehearse(alias: str) -> None:
    """Write the SQL of a typical QuerySet without running it: Django imports its compilers and
    expression machinery on first use, and every run would pay for that again."""
    from django.db.models import Count, Exists, OuterRef

    from blog.models import Comment, Post

    queryset = (
        Post.objects.using(alias)
        .select_related("author")
        .prefetch_related("tags")
        .annotate(comments_count=Count("comments"))
        .filter(Exists(Comment.objects.filter(post=OuterRef("pk"))))
        .order_by("-published_at")[:5]
    )
    queryset.query.get_compiler(alias).as_sql()


def _request(control: socket.socket) -> tuple[Job, int, int] | None:
    """The next job with its two descriptors, or None once the server has closed its end."""
    try:
        head, descriptors, _, _ = socket.recv_fds(control, LENGTH.size, 2, socket.MSG_CMSG_CLOEXEC)
        head += read_exactly(control, LENGTH.size - len(head)) if head else b""
        if len(head) < LENGTH.size or len(descriptors) != 2:
            return None
        (length,) = LENGTH.unpack(head)
        job = pickle.loads(read_exactly(control, length))
    except (OSError, EOFError):
        return None
    return job, descriptors[0], descriptors[1]


def _run(control: socket.socket, job: Job, channel: int, walls: frozenset[str]) -> None:
    """In the forked run: nothing of the warm process's own handling, then the run itself."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the watcher waits for its worker itself
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    control.close()
    sandbox.child_main(job, Connection(channel, readable=False), walls)


def _reap(signum: int, frame: FrameType | None) -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
