"""Each of the kernel's walls on its own (lessons.engine.child.confine), with the audit hook
switched off from Python, as a determined learner would.

For every attack: with no wall at all the attack works (so each test can fail), every wall that
promises to stop it stops it alone, and all the walls together stop it. The server switches walls
with COURSE_RUN_WALLS, read by the warm process, which is started again for each set. Run as root
(CI) this checks a server running as root; `test_the_walls_hold_for_a_server_run_by_an_ordinary_
user` runs this same file again as an ordinary user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

from lessons import engine
from lessons.engine import Task, service, warm_process
from lessons.engine.child import confine
from tests.test_hostile import HOOK_OFF

ROOT = os.geteuid() == 0
NO_WALLS = "none"


def tries(**targets: str) -> str:
    """A program that tries each target's statements and says, per target, whether it worked."""
    lines = [HOOK_OFF, "import os, socket"]
    for name, body in targets.items():
        lines.append("try:")
        lines.append(textwrap.indent(textwrap.dedent(body).strip(), "    "))
        lines.append(f"    print({name!r} + ':open')")
        lines.append("except OSError:")
        lines.append(f"    print({name!r} + ':blocked')")
    return "\n".join(lines)


@dataclass(frozen=True)
class Targets:
    home_secret: Path  # a file only the server's user may read, in its home, outside the checkout
    var_secret: Path  # a file in var/, like the secret key
    home_file: Path  # files the server's user may write: in its home, the checkout, /tmp
    checkout_file: Path | None  # None where the server's user may not write the checkout anyway
    tmp_file: Path
    port: int  # a TCP port listening on loopback
    datagram_socket: Path  # a unix datagram socket bound on the host


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    tag = uuid.uuid4().hex[:8]
    home = Path.home()
    made = Targets(
        home_secret=home / f".course-wall-secret-{tag}",
        var_secret=Path(settings.VAR_DIR) / f"wall-secret-{tag}",
        home_file=home / f".course-wall-target-{tag}",
        checkout_file=(
            Path(settings.BASE_DIR) / f".wall-target-{tag}"
            if os.access(settings.BASE_DIR, os.W_OK)
            else None
        ),
        tmp_file=tmp_path_factory.mktemp("walls") / "target",
        port=0,
        datagram_socket=Path(tempfile.mkdtemp(prefix="course-walls-")) / "dgram",
    )
    for secret in (made.home_secret, made.var_secret):
        secret.write_text("secret")
        secret.chmod(0o600)
    for target in written(made):
        target.write_text("original")
        target.chmod(0o644)
    listener = socket.create_server(("127.0.0.1", 0))
    datagrams = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    datagrams.bind(str(made.datagram_socket))
    made.datagram_socket.chmod(0o777)
    made.datagram_socket.parent.chmod(0o755)
    with listener, datagrams:
        yield Targets(**{**made.__dict__, "port": listener.getsockname()[1]})
    shutil.rmtree(made.datagram_socket.parent, ignore_errors=True)
    for path in (made.home_secret, made.var_secret, *written(made)):
        path.unlink(missing_ok=True)


def written(t: Targets) -> list[Path]:
    return [p for p in (t.home_file, t.checkout_file, t.tmp_file) if p is not None]


def warm_pid() -> int:
    engine.start()
    pid = warm_process.pid()
    assert pid is not None
    return pid


NEW_USER_NAMESPACE = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
    raise OSError(ctypes.get_errno(), "unshare")
"""
FILES = ("namespaces", "user", "landlock")
# Each attack, and the walls that each promise to stop all of it on their own.
STOPPED_BY = {
    "read-the-server-user's-files": FILES,
    "write-outside-scratch": FILES,
    "network": ("network", "seccomp", "landlock"),
    "reach-the-warm-process": ("namespaces", "user"),
    "kernel-settings": FILES,
    "fill-the-disk": ("namespaces",),
    "namespace-calls": ("seccomp",),
    "memory-the-limit-does-not-count": ("seccomp",),
    "datagram-to-a-host-socket": ("namespaces", "seccomp"),
    "take-the-hosts-terminals": ("namespaces", "landlock"),
    "leave-the-process-group": ("seccomp",),
    "kernel-memory-and-slots": ("seccomp",),
}


def attack(name: str, t: Targets, control: bool) -> str:
    # The warm process has no address (its one socket is a pair with the server, see
    # test_the_warm_process_has_no_address_to_reach_it_by): what a run could reach is the
    # process itself, to signal it (its memory is closed to a run by the capabilities it drops).
    reach = f"os.kill({warm_pid()}, 0)"
    programs = {
        "read-the-server-user's-files": tries(
            home=f"open({str(t.home_secret)!r}).read()", var=f"open({str(t.var_secret)!r}).read()"
        ),
        "write-outside-scratch": tries(
            **{
                f"file{n}": f"open({str(path)!r}, 'a').write('changed')"
                for n, path in enumerate(written(t))
            }
        ),
        "network": tries(
            tcp=f"socket.create_connection(('127.0.0.1', {t.port}), timeout=1).close()"
        ),
        "reach-the-warm-process": tries(warm=reach),
        "kernel-settings": tries(
            core_pattern="open('/proc/sys/kernel/core_pattern', 'w').close()",
            drop_caches="open('/proc/sys/vm/drop_caches', 'w').close()",
        ),
        # Three files of 8 MB: each within RLIMIT_FSIZE (16 MB here), together more than the
        # scratch tmpfs holds.
        "fill-the-disk": tries(write=FILL, fallocate=FALLOCATE),
        "namespace-calls": tries(unshare=NEW_USER_NAMESPACE),
        # memfds and System V memory are not address space: RLIMIT_AS would not see them.
        "memory-the-limit-does-not-count": tries(memfd=MEMFD, system_v=SYSTEM_V_MEMORY),
        "datagram-to-a-host-socket": tries(
            datagram=f"""
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.sendto(b"from a run", {str(t.datagram_socket)!r})
"""
        ),
        # Each terminal opened is one of the host's (4,096 at most), even read-only.
        "take-the-hosts-terminals": tries(
            ptmx="os.close(os.open('/dev/ptmx', os.O_RDONLY | os.O_NOCTTY))"
        ),
        # Out of the watcher's process group, the service's kill at the end would miss it.
        # Larger socket buffers are memory the address-space limit does not see; asynchronous
        # I/O contexts come from one pool for the whole host.
        "kernel-memory-and-slots": tries(socket_buffer=SOCKET_BUFFER, aio=AIO_CONTEXT),
        "leave-the-process-group": tries(
            setpgid="os.setpgid(0, os.getpgid(0))", setsid="os.setsid()"
        ),
    }
    return programs[name]


SOCKET_BUFFER = """
a, b = socket.socketpair()
a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 30)
"""
AIO_CONTEXT = """
import ctypes, platform
setup, destroy = {"x86_64": (206, 207), "aarch64": (0, 1)}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
context = ctypes.c_ulong(0)
if libc.syscall(setup, 16, ctypes.byref(context)) != 0:  # io_setup
    raise OSError(ctypes.get_errno(), "io_setup")
libc.syscall(destroy, context)
"""
MEMFD = """
os.close(os.memfd_create("hold"))
"""
SYSTEM_V_MEMORY = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
segment = libc.shmget(0, ctypes.c_size_t(4096), 0o1600)  # IPC_PRIVATE
if segment < 0:
    raise OSError(ctypes.get_errno(), "shmget")
libc.shmctl(segment, 0, None)  # IPC_RMID: nothing left behind, even in the control
"""


FILL = """
for n in range(3):
    with open(f"fill-{n}", "wb") as fill:
        fill.write(b"x" * 8 * 1024 * 1024)
"""


FALLOCATE = """
for n in range(3):
    descriptor = os.open(f"reserved-{n}", os.O_CREAT | os.O_WRONLY)
    os.posix_fallocate(descriptor, 0, 8 * 1024 * 1024)
"""


def configs(name: str) -> list[str]:
    """No walls (the control), each wall that promises to stop `name` alone, and all of them.
    The user wall promises something only where the server is root: otherwise the run is the
    server's own unprivileged user already; and an ordinary user cannot write kernel settings,
    walls or not, so that control needs root."""
    alone = [w for w in STOPPED_BY[name] if ROOT or w != "user"]
    control = [NO_WALLS] if ROOT or name != "kernel-settings" else []
    return [*control, *alone, "all"]


# Grouped by walls, so the warm process starts again only when they change.
CASES = [
    pytest.param(name, config, id=f"{name}-{config}")
    for config in (NO_WALLS, *confine.WALLS, "all")
    for name in STOPPED_BY
    if config in configs(name)
]


@pytest.fixture(scope="module")
def walls(request: pytest.FixtureRequest, django_db_setup: None) -> Iterator[str]:
    config = str(request.param)
    built = confine.probe()
    wanted = set(confine.WALLS) if config == "all" else set() if config == NO_WALLS else {config}
    if missing := [built[name].why for name in wanted if not built[name].on]:
        if os.environ.get("CI"):
            pytest.fail(f"CI must check the {config} walls: {'; '.join(missing)}")
        pytest.skip(f"cannot build here: {'; '.join(missing)}")
    previous = os.environ.get("COURSE_RUN_WALLS")
    os.environ["COURSE_RUN_WALLS"] = ",".join(sorted(wanted))
    engine.restart()
    yield config
    if previous is None:
        os.environ.pop("COURSE_RUN_WALLS", None)
    else:
        os.environ["COURSE_RUN_WALLS"] = previous
    engine.restart()


@pytest.fixture(autouse=True)
def small_scratch(settings: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    settings.COURSE_RUN_SCRATCH_MB = 16
    settings.COURSE_RUN_WORKERS = 2
    settings.COURSE_RUN_DIR = tmp_path_factory.getbasetemp() / "walls-run"


def run(code: str) -> tuple[str, Any]:
    [result] = engine.run([Task(code, "tiny")], learner="walls-test")
    return result.output, result.error


def outcome(output: str) -> set[str]:
    return {line.split(":")[1] for line in output.splitlines() if ":" in line}


@pytest.mark.parametrize(("name", "walls"), CASES, indirect=["walls"])
def test_each_wall_alone(name: str, walls: str, targets: Targets, data: None) -> None:
    control = walls == NO_WALLS

    output, error = run(attack(name, targets, control))

    assert error is None, error
    assert outcome(output) == ({"open"} if control else {"blocked"}), output
    for target in written(targets):
        if not control:
            assert target.read_text() == "original"
        target.write_text("original")  # the control changed them; the next test starts afresh


# A duration no other process asks for: the suite's other workers leave survivors of their own.
SURVIVOR = f"31.{os.getpid()}"


def survivors() -> list[int]:
    found = []
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if entry.read_bytes().split(b"\0")[:2] == [b"sleep", SURVIVOR.encode()]:
                found.append(int(entry.parent.name))
    return found


LEAVE_A_SURVIVOR = f"""{HOOK_OFF}
import subprocess
subprocess.Popen(["sleep", {SURVIVOR!r}], start_new_session=True)
"""


@pytest.mark.parametrize(
    ("walls", "survives"), [(NO_WALLS, True), ("namespaces", False)], indirect=["walls"]
)
def test_a_process_that_leaves_its_session_dies_with_the_run(
    walls: str, survives: bool, data: None
) -> None:
    run(LEAVE_A_SURVIVOR)
    time.sleep(0.5)
    left = survivors()
    for pid in left:
        os.kill(pid, 9)

    assert bool(left) == survives


@pytest.mark.parametrize("walls", ["namespaces"], indirect=True)
def test_a_full_scratch_is_out_of_space(walls: str, data: None) -> None:
    _, error = run(f"{HOOK_OFF}\n{FILL}")

    assert error.type == "OutOfSpace"
    assert error.message == (
        "The run's scratch folder is full: it holds at most 16 MB, its dataset copies included."
    )


# The run's own process leaves its session and answers for itself: the watcher's end takes it
# (its parent-death signal), and the PID namespace everything else.
LEAVE_THE_SESSION = f"""{HOOK_OFF}
import os, sys, time
frame = sys._getframe()
while "channel" not in frame.f_locals:
    frame = frame.f_back
os.setsid()
open("started", "w").close()
frame.f_locals["channel"].send_bytes(b'{{"kind": "ok", "results": []}}')
time.sleep(60)
"""


@pytest.mark.parametrize("walls", ["all"], indirect=True)
def test_the_runs_own_process_dies_with_the_run_even_out_of_its_session(
    walls: str, data: None
) -> None:
    from tests.test_hostile import markers

    before = markers()
    run(LEAVE_THE_SESSION)
    deadline = time.monotonic() + 3
    while markers() - before and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not markers() - before


INHERITED = f"""{HOOK_OFF}
import os
from lessons.engine.child import warm
held = set()
for name in os.listdir("/proc/self/fd"):
    try:
        stat = os.stat(f"/proc/self/fd/{{name}}")
    except OSError:
        continue
    held.add((stat.st_dev, stat.st_ino))
print("warm process known:" + ("open" if warm.control_socket else "closed"))
print("warm process:" + ("open" if warm.control_socket in held else "closed"))
"""


@pytest.mark.parametrize("walls", ["all"], indirect=True)
def test_a_run_keeps_no_descriptor_of_a_process_outside_it(walls: str, data: None) -> None:
    output, error = run(INHERITED)

    said = [line for line in output.splitlines() if ":" in line]
    assert error is None and said == ["warm process known:open", "warm process:closed"]


@pytest.mark.parametrize("walls", ["all"], indirect=True)
def test_the_warm_process_never_has_the_secret_key_in_its_environment(
    walls: str, data: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COURSE_SECRET_KEY", "a-secret-the-runs-must-not-find")
    engine.restart()
    run("print(1)")
    pid = warm_pid()

    environment = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"a-secret-the-runs-must-not-find" not in environment


@pytest.mark.parametrize("walls", ["all"], indirect=True)
def test_the_warm_process_has_no_address_to_reach_it_by(walls: str, data: None) -> None:
    run("print(1)")
    pid = warm_pid()
    held = {
        link.removeprefix("socket:[").removesuffix("]")
        for entry in Path(f"/proc/{pid}/fd").iterdir()
        if (link := os.readlink(entry)).startswith("socket:[")
    }
    # Unix sockets by inode, with their flags and path (if bound), in the server's network
    # namespace and in the warm process's own.
    unix: dict[str, tuple[int, str]] = {}
    for table in ("/proc/self/net/unix", f"/proc/{pid}/net/unix"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            unix[fields[6]] = (int(fields[3], 16), fields[7] if len(fields) > 7 else "")

    assert held and held <= unix.keys()  # unix sockets only: nothing on any network
    assert all(unix[inode] == (0, "") for inode in held)  # none bound to a path, none listening


def test_no_two_worker_slots_run_code_as_the_same_user(tmp_path: Path) -> None:
    limits = engine.Config.from_settings().limits
    slots = [tmp_path / "slots" / "0", tmp_path / "slots" / "1", tmp_path / "check-slots" / "0"]

    users = {service._plan(tmp_path, {}, limits, slot).run_uid for slot in slots}

    assert len(users) == 3 and all(uid >= settings.COURSE_RUN_UID for uid in users)


def test_the_checkouts_own_var_is_hidden_wherever_var_is_configured(
    settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path / "elsewhere"

    plan = service._plan(tmp_path / "scratch", {}, engine.Config.from_settings().limits)

    checkout = Path(settings.BASE_DIR)
    assert set(plan.hidden) == {
        str(tmp_path / "elsewhere"),
        str(checkout / "var"),
        str(checkout / "lessons" / "content"),
        str(checkout / ".git"),
    }


# The same file, as an ordinary user --------------------------------------------------------

TESTER = "course-walls"


def _ordinary_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(TESTER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", TESTER], check=True)
        return pwd.getpwnam(TESTER)


def _as(user: pwd.struct_passwd, readable: list[str]) -> Any:
    """In the child, as root: a mount namespace where folders on the way to the Python
    installation and the checkout that only root may enter (/root) are made passable, then the
    user's identity."""

    def become() -> None:
        confine._check(confine._libc.unshare(confine.CLONE_NEWNS), "unshare")
        confine._mount(None, "/", None, confine.MS_REC | confine.MS_PRIVATE)
        closed = [d for d in ("/root",) if any(Path(p).is_relative_to(d) for p in readable)]
        handles = {
            p: os.open(p, os.O_PATH)
            for p in readable
            if any(Path(p).is_relative_to(d) for d in closed)
        }
        for folder in closed:
            confine._mount("tmpfs", folder, "tmpfs", 0, "mode=755")
        for path, handle in handles.items():
            os.makedirs(path, exist_ok=True)
            confine._mount(f"/proc/self/fd/{handle}", path, None, confine.MS_BIND | confine.MS_REC)
        os.setgroups([])
        os.setresgid(user.pw_gid, user.pw_gid, user.pw_gid)
        os.setresuid(user.pw_uid, user.pw_uid, user.pw_uid)

    return become


@pytest.mark.skipif(not ROOT, reason="starts the server as an ordinary user: needs root")
@pytest.mark.skipif(
    connections["tiny"].vendor == "postgresql",
    reason="the ordinary user's server runs on SQLite, which make test checks",
)
def test_the_walls_hold_for_a_server_run_by_an_ordinary_user() -> None:
    user = _ordinary_user()
    var = Path(tempfile.mkdtemp(prefix="course-walls-var-"))  # pytest's own folder is root's only
    os.chown(var, user.pw_uid, user.pw_gid)
    checkout = str(settings.BASE_DIR)
    readable = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, checkout)})
    environment = {  # nor an xdist worker's name, which would give it a var/ of that worker's
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COURSE_", "PG", "PYTEST_XDIST"))
    }
    environment.update(
        HOME=user.pw_dir, USER=TESTER, COURSE_VAR_DIR=str(var), TMPDIR="/tmp", CI="true"
    )
    environment.pop("DATABASE_URL", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        __file__,
        "-q",
        "-p",
        "no:cacheprovider",
        "-k",
        "each_wall_alone or dies_with_the_run or out_of_space",
    ]

    finished = subprocess.run(
        command,
        cwd=checkout,
        env=environment,
        preexec_fn=_as(user, readable),
        capture_output=True,
        text=True,
        timeout=600,
    )

    shutil.rmtree(var, ignore_errors=True)
    summary = finished.stdout.strip().splitlines()[-1] if finished.stdout.strip() else ""
    assert finished.returncode == 0, finished.stdout[-4000:] + finished.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
