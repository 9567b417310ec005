"""Hostile and broken programs, each run through the run service exactly as a learner's code is.

For every program: the exact error the learner is shown, that the service still answers a plain
run afterwards, and that no dataset changed (the checksum of every blog table in every dataset).
Limits are lowered so the file stays fast; the runs use a run directory of their own, so nothing
here waits behind (or disturbs) another process using var/run/.

The audit hook is Python and a run can switch it off; where the server runs as root the kernel's
walls (lessons.engine.child.confine) still hold, and the last tests check them with the hook off.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from django.db import connections

from lessons import datasets, engine
from lessons.datasets import pgguard
from lessons.engine import RunResult, Task

LEARNER = "hostile-test"
COUNT_POSTS = "print(Post.objects.count())"

CPU_SECONDS = 2
WALL_SECONDS = 4
MEMORY_MB = 256
MAX_CODE_CHARS = 20_000

CPU_LIMIT = f"The run used more than {CPU_SECONDS} seconds of CPU time and was stopped."
TIME_LIMIT = f"The run took longer than {WALL_SECONDS} seconds and was stopped."
MEMORY_LIMIT = f"The run used more than {MEMORY_MB} MB of memory and was stopped."
NO_PROCESS = "Starting a process is not allowed in a run."
NO_NETWORK = "Opening a network connection is not allowed in a run."
NO_SIGNAL = "Sending a signal is not allowed in a run."
NO_DATABASE = "Opening another database is not allowed in a run."
NO_NEW_CONNECTION = (
    "Opening another database connection is not allowed in a run: it has the ones it was given "
    "(another_worker(work) runs work on a second one)."
)
PROCESS_ENDED = "The run's process ended before it reported back (did the code exit the process?)."
ALWAYS_ROLLED_BACK = (
    "is refused here: every run happens inside one transaction that is always rolled back, "
    "so the datasets never change."
)


def tampered(name: str) -> str:
    return (
        f"The run replaced {name}, which the course uses to count queries, so its query count "
        "cannot be trusted."
    )


def code(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


class Hostile(NamedTuple):
    """One program and what the learner must see: an error type and message (exact, or a
    pattern the whole message matches), or no error and the exact output."""

    code: str
    error: str | None
    message: str | re.Pattern[str] | None = None
    dataset: str = "tiny"
    output: str | None = None
    dropped: int | None = None  # printed lines beyond the bound, when it matters
    settings: tuple[tuple[str, Any], ...] = ()  # limits this program needs other than the file's


# Programs stopped by the CPU limit get a roomy wall clock, so that a busy machine (where CPU
# seconds take longer than wall seconds) still stops them for their CPU time.
ROOMY_WALL_SECONDS = 15
ROOMY = (("COURSE_RUN_WALL_SECONDS", ROOMY_WALL_SECONDS),)


# On PostgreSQL (make test-pg) a commit is refused by the server as it happens
# (lessons.datasets.pgguard),
# SQLite's own statements are syntax errors and there is no dataset file: the same programs, and
# still nothing changes, but the learner sees these errors instead.
ON_POSTGRESQL = connections["tiny"].vendor == "postgresql"
TINY_TEST_DATABASE = connections["tiny"].settings_dict["TEST"]["NAME"]
PG_REFUSAL = f"{pgguard.REFUSAL}\nCONTEXT:  PL/pgSQL function course_keep_dataset() line 3 at RAISE"
PG_COMMIT_REFUSED = {"error": "InsufficientPrivilege", "message": PG_REFUSAL}
POSTGRESQL_DIFFERS: dict[str, dict[str, Any]] = {
    "write-the-dataset-file": {
        "error": "FileNotFoundError",
        "message": f"[Errno 2] No such file or directory: {TINY_TEST_DATABASE!r}",
    },
    "raw-connection-commit": {"error": "InsufficientPrivilege", "message": PG_REFUSAL},
    "commit-on-the-raw-sqlite-connection": {
        "error": "InsufficientPrivilege",
        "message": PG_REFUSAL,
    },
    "attach-database-behind-a-comment": {
        "error": "ProgrammingError",
        "message": re.compile(r'syntax error at or near "ATTACH".*', re.DOTALL),
    },
    "pragma-query-only-off": {
        "error": "ProgrammingError",
        "message": re.compile(r'syntax error at or near "PRAGMA".*', re.DOTALL),
    },
    "remove-the-authorizer-then-commit": {
        "error": "AttributeError",
        "message": "'Connection' object has no attribute 'set_authorizer'",
    },
    # A thread's connection would be a new one: the run has only those it was given.
    "writing-with-a-second-thread": {"output": str([f"Refused({NO_NEW_CONNECTION!r})"])},
}


def case(name: str, *args: Any, **kwargs: Any) -> Any:
    hostile = Hostile(*args, **kwargs)
    if ON_POSTGRESQL and name in POSTGRESQL_DIFFERS:
        hostile = hostile._replace(**POSTGRESQL_DIFFERS[name])
    return pytest.param(hostile, id=name)


# A copy of a compiled standard library module, put in the scratch folder: compiled code from
# outside the standard library, whatever else happens to be installed.
FOREIGN_EXTENSION = code(
    """
    import glob, importlib.util, shutil, sys
    pattern = sys.base_exec_prefix + "/lib/python3*/lib-dynload/_bisect.*.so"
    shutil.copy(glob.glob(pattern)[0], "_bisect.so")
    spec = importlib.util.spec_from_file_location("_bisect", "_bisect.so")
    importlib.util.module_from_spec(spec)
    """
)

CORPUS = [
    # Time
    case("infinite-loop", "while True:\n    pass", "CPULimit", CPU_LIMIT, settings=ROOMY),
    case("busy-loop-in-c", "sum(range(10**12))", "CPULimit", CPU_LIMIT, settings=ROOMY),
    case(
        "cpu-signal-ignored",
        code(
            """
            import signal
            signal.signal(signal.SIGXCPU, signal.SIG_IGN)
            while True:
                pass
            """
        ),
        "CPULimit",
        CPU_LIMIT,
        settings=ROOMY,
    ),
    case("sleep-forever", "import time\ntime.sleep(3600)", "TimeLimit", TIME_LIMIT),
    # Memory
    case("memory-hog-at-once", "hog = bytearray(10**10)", "MemoryLimit", MEMORY_LIMIT),
    case(
        "memory-hog-growing",
        "hog = []\nwhile True:\n    hog.append('x' * 10**6)",
        "MemoryLimit",
        MEMORY_LIMIT,
    ),
    # Processes and signals
    case("fork-bomb", "import os\nwhile True:\n    os.fork()", "Refused", NO_PROCESS),
    case("os-system", "import os\nos.system('true')", "Refused", NO_PROCESS),
    case("subprocess", "import subprocess\nsubprocess.run(['true'])", "Refused", NO_PROCESS),
    case(
        "posix-spawn", "import os\nos.posix_spawn('/bin/true', ['true'], {})", "Refused", NO_PROCESS
    ),
    case(
        "multiprocessing",
        "import multiprocessing\nmultiprocessing.Process(target=print).start()",
        "Refused",
        NO_PROCESS,
    ),
    case("signal-the-parent", "import os\nos.kill(os.getppid(), 9)", "Refused", NO_SIGNAL),
    case("sys-exit", "import sys\nsys.exit(3)", "SystemExit", "3"),
    case("os-exit", "import os\nos._exit(0)", "ProcessEnded", PROCESS_ENDED),
    case(
        "empty-the-builtins-module",
        "import builtins\nbuiltins.__dict__.clear()",
        "ProcessEnded",
        PROCESS_ENDED,
    ),
    case("del-builtins", "del __builtins__\nprint(len('abc'))", None, output="3"),
    case(
        "add-an-audit-hook",  # silently not added: sys.addaudithook swallows the refusal
        code(
            """
            import sys
            seen = []
            sys.addaudithook(lambda event, args: seen.append(event))
            open("seen.txt", "w").close()
            print(seen)
            """
        ),
        None,
        output="[]",
    ),
    # Network
    case(
        "socket-af-inet",
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_STREAM)",
        "Refused",
        NO_NETWORK,
    ),
    case(
        "socket-af-unix-connect",
        "import socket\nsocket.socket(socket.AF_UNIX).connect('/tmp/hostile-no-such-socket')",
        "Refused",
        NO_NETWORK,
    ),
    case(
        "urlopen",
        "import urllib.request\nurllib.request.urlopen('http://127.0.0.1:9/', timeout=1)",
        "URLError",
        f"<urlopen error {NO_NETWORK}>",
    ),
    # Files
    case(
        "write-outside-scratch",
        "open('/tmp/hostile-outside.txt', 'w').write('x')",
        "Refused",
        "Writing to '/tmp/hostile-outside.txt' is not allowed in a run.",
    ),
    case(
        "write-the-dataset-file",
        "from django.conf import settings\nopen(settings.DATABASES['tiny']['TEST']['NAME'], 'r+b')",
        "Refused",
        re.compile(r"Writing to '.*' is not allowed in a run\."),
    ),
    case(
        "delete-outside-scratch",
        "import os\nos.remove('/tmp/hostile-never-there')",
        "Refused",
        "Changing files is not allowed in a run.",
    ),
    case(
        "write-inside-scratch",
        "open('notes.txt', 'w').write('kept')\nprint(open('notes.txt').read())",
        None,
        output="kept",
    ),
    # Output
    case(
        "print-100-mb-in-lines",
        "line = 'x' * 99\nfor _ in range(1_000_000):\n    print(line)",
        None,
        output="\n".join(["x" * 99] * 200),
        dropped=999_800,
        settings=ROOMY,
    ),
    case(
        "print-100-mb-in-one-line",  # kept to 500 characters, with a note
        "print('x' * 100_000_000)",
        None,
        output="x" * 500 + "… (99,999,500 more characters not shown)",
        settings=(*ROOMY, ("COURSE_RUN_MEMORY_MB", 512)),
    ),
    # Code that does not compile
    case("syntax-error", "def (:", "SyntaxError", "invalid syntax"),
    case(
        "null-byte", "print(1)\x00", "SyntaxError", "source code string cannot contain null bytes"
    ),
    case(
        "latin-1-garbage",
        bytes(range(128, 256)).decode("latin-1"),
        "SyntaxError",
        "invalid non-printable character U+0080",
    ),
    case(
        "deep-recursion",
        "def f(n):\n    return f(n + 1)\nf(0)",
        "RecursionError",
        "maximum recursion depth exceeded",
    ),
    # Transactions and databases
    case(
        "commit-in-raw-sql",
        "Post.objects.update(title='kept?')\nconnection.cursor().execute('COMMIT')",
        "TransactionControlRefused",
        f"COMMIT {ALWAYS_ROLLED_BACK}",
    ),
    case(
        "rollback-in-raw-sql",
        "with connection.cursor() as c:\n    c.execute('ROLLBACK')",
        "TransactionControlRefused",
        f"ROLLBACK {ALWAYS_ROLLED_BACK}",
    ),
    case(
        "connection-commit",
        "Post.objects.update(title='kept?')\nconnection.commit()",
        "TransactionManagementError",
        "This is forbidden when an 'atomic' block is active.",
    ),
    case(
        "raw-connection-commit",
        "Post.objects.update(title='kept?')\nconnection.connection.commit()",
        "DatabaseError",
        "not authorized",
    ),
    case(
        "commit-on-the-raw-sqlite-connection",
        "Post.objects.update(title='kept?')\nconnection.connection.execute('COMMIT')",
        "DatabaseError",
        "not authorized",
    ),
    case(
        "remove-the-authorizer-then-commit",
        "connection.connection.set_authorizer(None)\nconnection.connection.execute('COMMIT')",
        "TransactionControlRefused",
        "Changing the database's authorizer is refused here: every run happens inside one "
        "transaction that is always rolled back, so the datasets never change.",
    ),
    case(
        "attach-database",
        "with connection.cursor() as c:\n    c.execute(\"ATTACH DATABASE '/tmp/h.db' AS h\")",
        "TransactionControlRefused",
        f"ATTACH {ALWAYS_ROLLED_BACK}",
    ),
    case(
        "attach-database-behind-a-comment",
        "with connection.cursor() as c:\n    c.execute(\"/**/ ATTACH DATABASE '/tmp/h.db' AS h\")",
        "DatabaseError",
        "not authorized",
    ),
    case(
        "pragma-query-only-off",
        "with connection.cursor() as c:\n    c.execute('PRAGMA query_only = 0')",
        "DatabaseError",
        "not authorized",
    ),
    case(
        "second-connection-to-the-dataset-file",
        code(
            """
            import sqlite3
            from django.conf import settings
            sqlite3.connect(str(settings.DATABASES["tiny"]["TEST"]["NAME"]))
            """
        ),
        "Refused",
        NO_DATABASE,
    ),
    case(
        "second-connection-to-another-file",
        "import sqlite3\nsqlite3.connect('/tmp/hostile-other.sqlite3')",
        "Refused",
        NO_DATABASE,
    ),
    case(
        "another-dataset", "Post.objects.using('medium').update(title='x')", "Refused", NO_DATABASE
    ),
    case(
        "the-course-database",
        "from django.contrib.sessions.models import Session\nSession.objects.all().delete()",
        "Refused",
        NO_DATABASE,
    ),
    # Threads
    case(
        "threads-that-outlive-the-run",
        code(
            """
            import threading, time
            def late():
                time.sleep(0.5)
                Post.objects.update(title="late")
            def spin():
                while True:
                    pass
            threading.Thread(target=late).start()
            threading.Thread(target=spin).start()
            print("started")
            """
        ),
        None,
        output="started",
    ),
    case(
        "writing-with-a-second-thread",
        code(
            """
            import threading
            errors = []
            def write():
                try:
                    Post.objects.update(title="from a thread")
                except Exception as exc:
                    errors.append(repr(exc))
            thread = threading.Thread(target=write)
            thread.start()
            thread.join()
            print(errors)
            """
        ),
        None,
        output="[\"OperationalError('attempt to write a readonly database')\"]",
    ),
    # Faking the measurement
    case(
        "patch-cursor-wrapper-execute",
        code(
            """
            from django.db.backends import utils
            real = utils.CursorWrapper.execute
            utils.CursorWrapper.execute = lambda self, *args, **kwargs: real(self, *args, **kwargs)
            Post.objects.count()
            """
        ),
        "MeasurementTampered",
        tampered("CursorWrapper.execute"),
    ),
    case(
        "patch-query-recorder",
        code(
            """
            from lessons.engine.child.capture import QueryRecorder
            QueryRecorder.__call__ = lambda self, execute, *args: execute(*args)
            Post.objects.count()
            """
        ),
        "MeasurementTampered",
        tampered("QueryRecorder.__call__"),
    ),
    case(
        "patch-query-count",
        code(
            """
            from lessons.engine import RunResult
            RunResult.query_count = property(lambda self: 1)
            Post.objects.count()
            Post.objects.count()
            """
        ),
        "MeasurementTampered",
        tampered("RunResult.query_count"),
    ),
    case(
        "erase-its-own-query-record",  # its own report lies; nobody else's does (see SECURITY.md)
        code(
            """
            import gc
            from lessons.engine.child.capture import QueryRecorder
            Post.objects.count()
            next(o for o in gc.get_objects() if type(o) is QueryRecorder).queries.clear()
            """
        ),
        None,
        output="",
    ),
    # Native code
    case(
        "ctypes",
        "import ctypes\nctypes.CDLL(None)",
        "Refused",
        "Loading native code is not allowed in a run.",
    ),
    case(
        "foreign-compiled-module",
        FOREIGN_EXTENSION,
        "Refused",
        "Loading the native module '_bisect' is not allowed in a run.",
    ),
    # Limits of the service itself
    case(
        "too-many-statements",
        "for _ in range(100):\n    Post.objects.count()",
        "StatementLimitExceeded",
        "The run was stopped after 50 SQL statements.",
        settings=(("COURSE_RUN_MAX_STATEMENTS", 50),),
    ),
    case(
        "too-many-statements-caught",
        code(
            """
            refused = 0
            for _ in range(100):
                try:
                    Post.objects.count()
                except Exception:
                    refused += 1
            print(refused)
            """
        ),
        None,
        output="50",
        settings=(("COURSE_RUN_MAX_STATEMENTS", 50),),
    ),
    case(
        "very-long-code",
        "x = 1\n" * 4_000,
        "CodeTooLong",
        "The code is 24,000 characters long; a run takes at most 20,000.",
    ),
    case(
        "bulk-update-on-large-killed-by-the-cpu-limit",
        code(
            """
            posts = list(Post.objects.all())
            for post in posts:
                post.title = "overwritten"
            while True:
                Post.objects.bulk_update(posts, ["title"], batch_size=100)
            """
        ),
        "CPULimit",
        CPU_LIMIT,
        dataset="large",
        settings=(*ROOMY, ("COURSE_RUN_MAX_STATEMENTS", 1_000_000)),
    ),
]


@pytest.fixture(scope="module")
def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-var")


@pytest.fixture(autouse=True)
def limits(settings: Any, run_root: Path) -> Any:
    settings.VAR_DIR = run_root
    settings.COURSE_RUN_WORKERS = 2
    settings.COURSE_RUN_QUEUE = 2
    settings.COURSE_RUN_CPU_SECONDS = CPU_SECONDS
    settings.COURSE_RUN_WALL_SECONDS = WALL_SECONDS
    settings.COURSE_RUN_MEMORY_MB = MEMORY_MB
    settings.COURSE_RUN_MAX_STATEMENTS = 20_000
    settings.COURSE_RUN_MAX_CODE_CHARS = MAX_CODE_CHARS
    return settings


@pytest.fixture(scope="module")
def checksums_before(django_db_setup: None, django_db_blocker: Any) -> dict[str, str]:
    with django_db_blocker.unblock():
        return checksums()


def checksums() -> dict[str, str]:
    return {name: datasets.checksum(name) for name in datasets.SPECS}


def run(source: str, dataset: str = "tiny", learner: str = LEARNER) -> RunResult:
    [result] = engine.run([Task(source, dataset)], learner=learner)
    return result


def outcome(source: str, dataset: str) -> tuple[RunResult | None, str | None, str | None]:
    """The result, and the error type and message the learner is shown, whichever way it comes
    back: in the result, or as a refusal before anything runs."""
    try:
        result = run(source, dataset)
    except engine.CodeTooLong as exc:
        return None, type(exc).__name__, str(exc)
    if result.error is None:
        return result, None, None
    return result, result.error.type, result.error.message


def posts(dataset: str) -> str:
    """The dataset's post count as a run prints it, from the counts recorded at seeding."""
    return str(datasets.stats(dataset).counts["posts"])


def assert_service_answers(dataset: str = "tiny") -> None:
    result = run(COUNT_POSTS, dataset)
    assert result.error is None
    assert result.output == posts(dataset)
    assert result.query_count == 1


@pytest.mark.parametrize("hostile", CORPUS)
def test_hostile_program(
    hostile: Hostile, data: None, limits: Any, checksums_before: dict[str, str]
) -> None:
    for name, value in hostile.settings:
        setattr(limits, name, value)

    result, error, message = outcome(hostile.code, hostile.dataset)

    assert error == hostile.error
    if isinstance(hostile.message, re.Pattern):
        assert message is not None and hostile.message.fullmatch(message), message
    else:
        assert message == hostile.message
    if hostile.output is not None:
        assert result is not None and result.output == hostile.output
    if hostile.dropped is not None:
        assert result is not None and result.output_dropped == hostile.dropped
    assert_service_answers(hostile.dataset)
    assert checksums() == checksums_before


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 32


def markers() -> set[Path]:
    """The `started` files of this process's runs going now (the suite's other workers run their
    own). A run's scratch folder is a tmpfs in its own mount namespace, so it is looked at through
    each process's /proc/<pid>/root (root may), or on the host's disk where the server builds no
    mount walls."""
    pattern = f"{tempfile.gettempdir().lstrip('/')}/course-run-*/started"
    found = set(Path("/").glob(pattern))
    for root in Path("/proc").glob("[0-9]*/root"):
        with contextlib.suppress(OSError):
            if _descends_from_this_process(int(root.parent.name)):
                found.update(root.glob(pattern))
    return found


def _descends_from_this_process(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        status = Path(f"/proc/{pid}/status").read_text()
        pid = int(status.split("PPid:", 1)[1].split()[0])
    return False


@contextlib.contextmanager
def in_flight(source: str, learner: str, dataset: str = "tiny") -> Iterator[dict[str, Any]]:
    """Run `source` (which must create the file `started` in its scratch folder once it is going)
    in a thread, and wait until it is going. Yields a dict that holds the result once it ends."""
    finished: dict[str, Any] = {}
    before = markers()

    def submit() -> None:
        finished["result"] = run(source, dataset, learner=learner)

    thread = threading.Thread(target=submit)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not markers() - before:
            assert thread.is_alive() and time.monotonic() < deadline, finished
            time.sleep(0.01)
        yield finished
    finally:
        thread.join()


LOOPING = "open('started', 'w').close()\nwhile True:\n    pass"


def test_other_learners_are_served_while_one_loops(
    data: None, limits: Any, checksums_before: dict[str, str]
) -> None:
    limits.COURSE_RUN_WALL_SECONDS = ROOMY_WALL_SECONDS
    with in_flight(LOOPING, "hostile-looper") as looper:
        result = run(COUNT_POSTS, learner="hostile-neighbour")
        assert "result" not in looper  # served while the loop was still going

    assert result.error is None and result.output == posts("tiny")
    assert looper["result"].error.type == "CPULimit"
    assert checksums() == checksums_before


def test_a_learner_with_a_run_in_flight_is_told_to_wait(data: None, limits: Any) -> None:
    limits.COURSE_RUN_WALL_SECONDS = ROOMY_WALL_SECONDS
    with in_flight(LOOPING, "hostile-impatient") as looper:
        with pytest.raises(engine.LearnerBusy) as busy:
            run(COUNT_POSTS, learner="hostile-impatient")
        assert "result" not in looper

    assert str(busy.value) == "Your previous run is still going. Wait for it, then try again."
    assert busy.value.status == 503 and busy.value.retry_after == engine.RETRY_AFTER
    assert looper["result"].error.type == "CPULimit"
    assert run(COUNT_POSTS, learner="hostile-impatient").output == posts("tiny")  # free again


def test_a_full_pool_answers_busy_while_a_loop_holds_it(data: None, limits: Any) -> None:
    limits.COURSE_RUN_WORKERS, limits.COURSE_RUN_QUEUE = 1, 0
    limits.COURSE_RUN_WALL_SECONDS = ROOMY_WALL_SECONDS

    with in_flight(LOOPING, "hostile-hog") as looper:
        with pytest.raises(engine.ServiceBusy) as busy:
            run(COUNT_POSTS, learner="hostile-crowd")
        assert "result" not in looper

    assert str(busy.value) == (
        "The course is busy running other learners' code. Try again in a moment."
    )
    assert run(COUNT_POSTS, learner="hostile-crowd").output == posts("tiny")


BULK_UPDATE_THEN_HANG = code(
    """
    posts = list(Post.objects.all())
    for post in posts:
        post.title = "overwritten"
    Post.objects.bulk_update(posts, ["title"], batch_size=500)
    updated = Post.objects.filter(title="overwritten").count()
    with open("started", "w") as marker:
        marker.write(str(updated))
    import time
    time.sleep(3600)
    """
)


def test_a_kill_after_a_bulk_update_on_large_changes_nothing(
    data: None, limits: Any, run_root: Path, checksums_before: dict[str, str]
) -> None:
    limits.COURSE_RUN_CPU_SECONDS = 20  # the wall clock, not the CPU limit, is what stops it
    # Time for the bulk update even on a machine busy with the suite's other workers.
    limits.COURSE_RUN_WALL_SECONDS = 10
    with in_flight(BULK_UPDATE_THEN_HANG, LEARNER, "large") as hanging:
        [marker, *_] = markers()  # one run, seen through each of its processes
        deadline = time.monotonic() + 9
        while marker.read_text() != posts("large"):  # every post was rewritten inside the run
            assert time.monotonic() < deadline
            time.sleep(0.01)

    assert (hanging["result"].error.type, hanging["result"].error.message) == (
        "TimeLimit",
        "The run took longer than 10 seconds and was stopped.",
    )
    after = run(
        "print(Post.objects.filter(title='overwritten').count(), Post.objects.count())", "large"
    )
    assert (after.error, after.output) == (None, f"0 {posts('large')}")
    assert checksums() == checksums_before


NOT_TEXT = [
    pytest.param("print('\ud800')", id="lone-surrogate"),
    pytest.param(b"\xff\xfeprint(\x80)".decode("utf-8", "surrogateescape"), id="bytes-as-text"),
]


@pytest.mark.parametrize("source", NOT_TEXT)
def test_code_that_is_not_text_runs_nothing(
    source: str, data: None, checksums_before: dict[str, str]
) -> None:
    result = run(source)

    assert result.error is not None and result.output == "" and result.query_count == 0
    assert_service_answers()
    assert checksums() == checksums_before


# Attacks the service once let through, each kept as a test of what it does now.


@pytest.mark.parametrize("source", NOT_TEXT)
def test_code_that_is_not_text_gets_a_message_for_a_learner(source: str, data: None) -> None:
    assert run(source).error.type != "RunCrashed"


def test_a_line_cut_short_is_noted(data: None, limits: Any) -> None:
    limits.COURSE_RUN_MEMORY_MB = 512

    result = run("print('x' * 100_000_000)")

    assert result.error is None
    assert result.output.endswith("… (99,999,500 more characters not shown)")


def test_compiled_standard_library_modules_load(data: None) -> None:
    result = run("import cmath\nprint(cmath.sqrt(-1))")

    assert (result.error, result.output) == (None, "1j")


LEAVE_CHANGES = [
    pytest.param(
        code(
            """
            import sqlite3
            other = sqlite3.connect(connection.settings_dict["NAME"])
            other.execute("UPDATE blog_post SET title = 'left behind'")
            other.commit()
            """
        ),
        id="sqlite3-to-the-run's-own-copy",
    ),
    pytest.param(
        code(
            """
            import tempfile
import threading
            from django.db import connections
            def write():
                with connections["tiny"].cursor() as cursor:
                    cursor.execute("PRAGMA query_only = 0")
                    cursor.execute("UPDATE blog_post SET title = 'left behind'")
            thread = threading.Thread(target=write)
            thread.start()
            thread.join()
            """
        ),
        id="new-connection-in-a-thread",
    ),
]


@pytest.mark.parametrize("source", LEAVE_CHANGES)
def test_a_run_cannot_change_what_the_next_run_sees(
    source: str, data: None, limits: Any, tmp_path: Path, checksums_before: dict[str, str]
) -> None:
    limits.VAR_DIR = tmp_path  # a pool of its own: whatever is left behind stays here
    limits.COURSE_RUN_WORKERS = 1

    run(source)
    after = run("print(Post.objects.filter(title='left behind').count())", learner="next-learner")

    assert checksums() == checksums_before  # the datasets themselves are safe...
    assert (after.error, after.output) == (None, "0")  # ...the next learner's copy is not


SWITCH_OFF_THE_HOOK = [
    pytest.param(
        code(
            """
            from lessons.engine.child import sandbox
            sandbox._PROCESS_EVENTS = ("nothing",)
            import os
            print(os.system("true"))
            """
        ),
        id="rebind-the-sandbox-module's-globals",
    ),
    pytest.param(
        code(
            """
            import gc, os, types
            for hook in gc.get_objects():
                if (
                    type(hook) is types.FunctionType
                    and hook.__qualname__ == "_audit_hook.<locals>.hook"
                ):
                    for cell in hook.__closure__:
                        if callable(cell.cell_contents):
                            cell.cell_contents = lambda what: None
            print(os.system("true"))
            """
        ),
        id="replace-refuse-in-the-hook's-closure",
    ),
]


@pytest.fixture
def walls() -> None:
    missing = [line for line in engine.walls(engine.WALLS).lines if not line.endswith(": on")]
    if missing:
        message = f"the kernel's walls are not all built here: {'; '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must check them.")
        pytest.skip(message)


HOOK_OFF = SWITCH_OFF_THE_HOOK[1].values[0]


# Each wall alone, with the hook switched off, is tested in tests/test_walls.py.


def test_a_process_a_run_leaves_behind_is_killed_with_it(
    data: None, walls: None, tmp_path: Path
) -> None:
    marker = tmp_path / "still-alive"
    source = (
        f"{HOOK_OFF}\nimport subprocess\n"
        f"subprocess.Popen(['sh', '-c', 'sleep 2; echo > {marker}'], start_new_session=True)"
    )

    run(source)
    time.sleep(3)

    assert not marker.exists()  # the detached sleeper died with the run's PID namespace


def test_a_run_cannot_make_the_server_run_code(data: None, tmp_path: Path) -> None:
    marker = tmp_path / "ran-in-the-server"
    source = code(
        f"""
        import os, sys
        frame = sys._getframe()
        while "channel" not in frame.f_locals:
            frame = frame.f_back
        class Payload:
            def __reduce__(self):
                return (os.mkdir, ({str(marker)!r},))
        frame.f_locals["channel"].send(("ok", [], Payload()))
        """
    )

    with contextlib.suppress(Exception):
        run(source)

    assert_service_answers()
    assert not marker.exists()


def test_a_forged_reply_is_an_error_for_that_run(data: None) -> None:
    source = code(
        """
        import sys
        frame = sys._getframe()
        while "channel" not in frame.f_locals:
            frame = frame.f_back
        frame.f_locals["channel"].send(("ok", ["not a result"]))
        """
    )

    [result] = engine.run([Task(source, "tiny")], learner=LEARNER)

    assert result.error is not None


OUTSIDE_THE_SCRATCH_FOLDER = [
    pytest.param(
        "import os\nos.link(TARGET, 'link')\nopen('link', 'a').write('changed')",
        id="hard-link-then-write",  # _inside resolves symbolic links, not hard links
    ),
    pytest.param(
        "import os\nopen('new', 'w').write('changed')\nos.replace('new', TARGET)",
        id="rename-over-it",  # os.rename/os.replace: only the source is checked
    ),
    pytest.param("import os\nos.chmod(TARGET, 0o777)", id="chmod"),
    pytest.param("import os\nos.mkdir(TARGET + '-dir')", id="mkdir"),
]


@pytest.mark.parametrize("source", OUTSIDE_THE_SCRATCH_FOLDER)
def test_no_file_outside_the_scratch_folder_changes(
    source: str, data: None, tmp_path: Path
) -> None:
    target = tmp_path / "outside.txt"
    target.write_text("original")
    target.chmod(0o644)

    result = run(f"TARGET = {str(target)!r}\n{source}")

    assert target.read_text() == "original"
    assert target.stat().st_mode & 0o777 == 0o644
    assert not (tmp_path / "outside.txt-dir").exists()
    assert result.error is not None and result.error.type == "Refused"


# The server believes nothing in a run's reply (lessons.engine.reply, lessons.engine.contract)

FIND_THE_CHANNEL = (
    code(
        """
    import json, os, struct, sys, time
    frame = sys._getframe()
    while "channel" not in frame.f_locals:
        frame = frame.f_back
    channel = frame.f_locals["channel"]
    """
    )
    + "\n"
)


def test_huge_failing_statements_make_a_bounded_report(data: None) -> None:
    from lessons.display.report import build_report
    from lessons.engine import contract

    source = code(
        """
        for i in range(10):
            try:
                connection.cursor().execute(f"SELECT {i}, " + "1, " * 350_000 + "1 FROM nope")
            except Exception:
                pass
        """
    )

    result = run(source)

    assert result.error is None and result.query_count == 10
    assert result.truncated == [
        "10 statements were longer than 100,000 characters: only the beginning is kept."
    ]
    assert all(len(q.sql) < contract.MAX_SQL_CHARS + 100 for q in result.queries)
    report = build_report(result.queries)
    assert {row.unformatted for row in report.shown_rows} == {
        "Shown as sent, not highlighted: longer than 10,000 characters."
    }
    assert sum(len(row.html) for row in report.shown_rows) < 10 * 10_200


def test_a_forged_reply_of_too_many_statements_is_cut_to_the_limit(data: None) -> None:
    source = FIND_THE_CHANNEL + code(
        """
        statement = {
            "sql": "SELECT 1", "params": [], "many": False, "duration": 0.0, "line": 1, "rows": 1,
        }
        result = {
            "dataset": "tiny", "queries": [statement] * 100_000, "duration": 0.1, "output": "",
            "output_dropped": 0, "objects_built": {}, "peak_memory": None,
            "objects_alive_peak": 0, "error": None, "first_statement_at": None, "integrity": [],
            "atomic": None,
        }
        channel.send_bytes(json.dumps({"kind": "ok", "results": [result]}).encode())
        """
    )

    result = run(source)

    assert result.query_count == 20_000
    assert result.truncated == [
        "The run reported 100,000 statements, more than the limit of 20,000: 80,000 were not kept."
    ]


def test_a_forged_deeply_nested_reply_is_an_error_for_that_run(data: None) -> None:
    source = f"{FIND_THE_CHANNEL}\nchannel.send_bytes(b'[' * 100_000 + b']' * 100_000)"

    result = run(source)

    assert result.error is not None
    assert result.error.message == "The run sent back something that is not a result."
    assert_service_answers()


def test_a_forged_reply_too_large_is_not_read(data: None) -> None:
    from lessons.engine import reply

    source = (
        f"{FIND_THE_CHANNEL}\n"
        f"os.write(channel.fileno(), struct.pack('!i', {reply.MAX_REPLY_BYTES + 1}))\n"
        "time.sleep(60)"
    )
    started = time.monotonic()

    result = run(source)

    assert result.error is not None
    assert result.error.message == f"The run could not finish: {reply.TOO_LARGE}"
    assert time.monotonic() - started < WALL_SECONDS
    assert_service_answers()


def test_a_forged_reply_that_stops_halfway_does_not_hold_the_server(data: None) -> None:
    from lessons.engine import reply

    source = (
        f"{FIND_THE_CHANNEL}\n"
        "os.write(channel.fileno(), struct.pack('!i', 1000) + b'{')\n"
        "time.sleep(60)"
    )
    answered: list[RunResult] = []
    thread = threading.Thread(target=lambda: answered.append(run(source)), daemon=True)

    thread.start()
    thread.join(timeout=WALL_SECONDS + reply.REPLY_SECONDS + 5)

    [result] = answered
    assert result.error is not None
    assert result.error.message == (
        "The run could not finish: its reply did not arrive in full within 2 seconds."
    )
    assert_service_answers()
