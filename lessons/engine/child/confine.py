"""The kernel's walls around one run. The audit hook in lessons.engine.child.sandbox is Python code
a determined run can switch off; these are the kernel's, and stay up whatever the run's Python
does.
Each is built where the kernel lets the server's user build it, and each holds on its own:

- `namespaces`: new mount, PID and IPC namespaces (in a user namespace of the run's own when the
  server is not root). The run sees only its own processes, and when it ends the kernel kills all
  it started. Every file system is read-only; /proc is a fresh, read-only one with /proc/sys
  masked, /sys is masked, /dev holds five harmless devices; /tmp, /var/tmp, /run, the course's
  var/ and the server user's home are hidden (the Python installation and the checkout are put
  back, read-only); the scratch folder is a tmpfs of its own, capped in size, noexec.
- `network`: the warm process every run is forked from sits in a network namespace with no
  interface up; no network at all, not even loopback.
- `user`: no root in a run. A server running as root drops the run to an unprivileged user id of
  its worker slot's own (COURSE_RUN_UID and up: no two runs at once share one, so no run's
  process count is another's) once its mounts are made; a server running as an ordinary user
  is one already. Every capability is dropped, from the bounding set too, with no_new_privs.
- `landlock` (lessons.engine.child.landlock): reading only the system folders, the Python
  installation and the checkout without var/; writing only in scratch; no TCP; abstract unix
  sockets and signals scoped to the run.
- `seccomp` (lessons.engine.child.syscalls): no new sockets or connections once the run's database
  connections are open, no leaving the process group, no ptrace, mounts, namespaces, keyrings,
  BPF, io_uring, memfds or System V IPC.

Which walls a server can build is tried once, in throwaway processes (`probe`), and said at start
(`describe`); SECURITY.md says what each promises and how it is tested.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import pwd
import re
import shutil
import signal
import site
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lessons.engine.child import landlock, syscalls
from lessons.engine.contract import WALLS, WallPlan

# Without a wall on files and one on the network, learner code is refused in a room.
ESSENTIAL = {"files": ("namespaces", "landlock"), "network": ("network", "seccomp")}

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_LAST_CAPABILITY = 63
# statvfs flags to the mount flags a read-only remount must keep (a user namespace may not clear
# them, and dropping one by accident would be refused).
_KEPT_FLAGS = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)
# Folders any process may write to or meet others in: hidden from a run.
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/var/lock")
# What a run reads under Landlock, beside the Python installation and the checkout.
SYSTEM_FOLDERS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc")
# The only devices a run sees (a /dev of its own) and may open: no terminals, no fuse, no tun.
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")

_libc = ctypes.CDLL(None, use_errno=True)


class ConfinementFailed(OSError):
    pass


@dataclass(frozen=True)
class Wall:
    name: str
    on: bool
    why: str = ""  # why it is off


# Probing --------------------------------------------------------------------------------------

_probed: dict[str, Wall] | None = None


def probe(checkout: str | None = None) -> dict[str, Wall]:
    """Which walls this server can build, each tried for real in a throwaway process (added one
    by one to those that worked, so a later one is tried as runs will build it). Cached."""
    global _probed
    if _probed is None:
        checkout = checkout or str(Path(__file__).resolve().parents[3])
        found: dict[str, Wall] = {}
        kept: set[str] = set()
        for name in WALLS:
            why = _cannot(name) or _try(frozenset({*kept, name}), checkout)
            found[name] = Wall(name, not why, why)
            if not why:
                kept.add(name)
        _probed = found
    return _probed


def available_walls(asked: Iterable[str] = WALLS) -> frozenset[str]:
    """The walls asked for that this server can build."""
    built = probe()
    return frozenset(name for name in asked if built[name].on)


def missing_essentials(walls: frozenset[str]) -> list[str]:
    """The essential protections (files, network) that none of `walls` gives."""
    return [what for what, by in ESSENTIAL.items() if not walls.intersection(by)]


def describe(walls: frozenset[str] | None = None) -> list[str]:
    """One line per wall, for the server's start: on, or off and why."""
    built = probe()
    lines = []
    for name in WALLS:
        wall = built[name]
        if walls is not None and name not in walls and wall.on:
            lines.append(f"{name}: off (switched off by COURSE_RUN_WALLS)")
        else:
            lines.append(f"{name}: on" if wall.on else f"{name}: OFF ({wall.why})")
    return lines


def _cannot(name: str) -> str:
    """Why a wall is impossible here without even trying, or ''."""
    if name == "landlock" and landlock.abi() < 1:
        return "the kernel has no Landlock (Linux 5.13+ with the landlock LSM enabled)"
    if name == "seccomp" and not syscalls.available():
        return "libseccomp or its binding pyseccomp is missing"
    return ""


def _try(walls: frozenset[str], checkout: str) -> str:
    """Build `walls` in a throwaway process and check a run could still work inside them."""
    read, write = os.pipe()
    # Made and removed here: the rehearsal's mounts hide /tmp from the process that tries them.
    scratch = tempfile.mkdtemp(prefix="course-probe-")
    pid = os.fork()
    if pid == 0:
        os.close(read)
        message = b""
        try:
            _rehearse(walls, checkout, scratch)
        except BaseException as exc:
            message = f"{type(exc).__name__}: {exc}"[:300].encode() or b"failed"
        with contextlib.suppress(OSError):
            os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as reply:
        message = reply.read()
    os.waitpid(pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    return message.decode(errors="replace")


def _rehearse(walls: frozenset[str], checkout: str, scratch: str) -> None:
    if "network" in walls:
        leave_network()
        if not _network_left:
            raise ConfinementFailed(0, "cannot make a network namespace")
    enter_namespaces(walls)
    inner = os.fork()
    if inner == 0:
        code = 1
        try:
            plan = WallPlan(scratch, keep=(checkout,), walls=walls)
            wall_in(plan)
            # What every run needs: the standard library, the checkout, its scratch folder.
            os.listdir(os.path.dirname(os.__file__))
            os.stat(os.path.join(checkout, "manage.py"))
            Path(scratch, "probe").write_text("ok")
            code = 0
        finally:
            os._exit(code)
    status = os.waitpid(inner, 0)[1]
    if os.waitstatus_to_exitcode(status) != 0:
        raise ConfinementFailed(0, "a process inside the walls could not work")


# Building -------------------------------------------------------------------------------------

_network_left = False
_own_user_namespace = False  # this process made the user namespace it is in (and may mount)


def leave_network() -> bool:
    """Move this process into a network namespace of its own, with no interface up. Done once in
    the warm process, so that every run forked from it starts without a network: a namespace per
    run would cost the kernel several milliseconds of clean-up after each one. Without root, the
    network namespace needs a user namespace of its own around it."""
    global _network_left
    if not _network_left:
        if os.geteuid() != 0 and not _enter_user_namespace():
            return False
        _network_left = _libc.unshare(CLONE_NEWNET) == 0
    return _network_left


def _enter_user_namespace() -> bool:
    """A user namespace in which this process (and what it forks) holds every capability, mapped
    to the server's own user: what lets an ordinary user build mount and PID namespaces."""
    global _own_user_namespace
    if _own_user_namespace:
        return True
    uid, gid = os.geteuid(), os.getegid()
    if _libc.unshare(CLONE_NEWUSER) != 0:
        return False
    with contextlib.suppress(FileNotFoundError):
        Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    _own_user_namespace = True
    return True


def enter_namespaces(walls: frozenset[str]) -> None:
    """In the run's watcher: unshare mounts and PIDs (and, unless the warm process already left
    it, the network). The calling process stays in the old PID namespace: the next process it
    forks is the first (PID 1) of the new one."""
    if "namespaces" not in walls:
        return
    if os.geteuid() != 0 and not _enter_user_namespace():
        raise ConfinementFailed(ctypes.get_errno(), "unshare a user namespace")
    network = CLONE_NEWNET if "network" in walls and not _network_left else 0
    # An IPC namespace too: System V shared memory, queues and semaphores a run makes go with it.
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | network), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def wall_in(plan: WallPlan) -> None:
    """In the run's process (the first of its PID namespace), before any of its code and once its
    database connections are open: the mounts, the dataset copies in scratch, the user, Landlock,
    and the system call filter last."""
    walls = plan.walls
    # Opened first: the templates may sit in a folder the mounts are about to hide (/tmp).
    templates = {name: open(template, "rb") for template, name in plan.copies.items()}  # noqa: SIM115
    if "namespaces" in walls:
        _mount_walls(plan)
    _copy_datasets(plan.scratch, templates)
    if "namespaces" in walls:
        for folder in plan.hidden:
            if Path(folder).is_dir():
                _mount(
                    "tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000"
                )
        _read_only_everywhere(keep={os.path.realpath(plan.scratch)})
    _drop_bounding_set()  # while it may (CAP_SETPCAP): nothing it starts can gain one back
    if "user" in walls and os.geteuid() == 0:
        _become(plan.run_uid, plan.run_gid, plan.scratch)
    _drop_capabilities()
    # When the watcher goes (the service kills its process group as the run ends), this process
    # goes too, and with it, as the first of its PID namespace, everything it started: even a
    # process that left the group. Set after the change of user, which would clear it; the
    # system call filter keeps the run from clearing it.
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")
    if "landlock" in walls:
        landlock.restrict(read=_readable(plan), write=[plan.scratch], files=DEVICES)
    if "seccomp" in walls:
        syscalls.load(_filter())


_built_filter = None


def prepare_filter() -> None:
    """Build the system call filter once, in the warm process: each run only loads it."""
    global _built_filter
    if _built_filter is None and syscalls.available():
        _built_filter = syscalls.compile_filter(syscalls.build())


def _filter() -> object:
    prepare_filter()
    return _built_filter


def _mount_walls(plan: WallPlan) -> None:
    """A read-only /proc of the run's own with /proc/sys masked, /sys masked, the shared folders
    and homes hidden (with what the run reads put back), and scratch a capped tmpfs."""
    keep = _kept_paths(plan)
    handles = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in keep}
    devices = {device: os.open(device, os.O_PATH | os.O_CLOEXEC) for device in DEVICES}
    _mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=755")
    for device, handle in devices.items():
        Path(device).touch()
        _mount(f"/proc/self/fd/{handle}", device, None, MS_BIND)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for handle in devices.values():
        os.close(handle)
    _mask("/proc/sys")
    _mask("/sys")
    quiet = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _mount(None, "/proc", None, MS_BIND | MS_REMOUNT | MS_RDONLY | quiet)
    scratch = os.path.realpath(plan.scratch)
    covers = [f for f in (*SHARED_FOLDERS, *_homes()) if _is_real_dir(f)]
    for folder in sorted(set(map(os.path.realpath, covers)), key=len):
        # An empty, closed tmpfs over each; the parts a run needs are made inside it below.
        _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=755")
    for path, handle in handles.items():
        if any(Path(path).is_relative_to(folder) for folder in covers):
            os.makedirs(path, exist_ok=True)
            _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        os.close(handle)
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    owner = f",uid={plan.run_uid},gid={plan.run_gid}" if "user" in plan.walls else ""
    size = f"size={plan.scratch_mb}m,nr_inodes=4096,mode=700{owner if os.geteuid() == 0 else ''}"
    _mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, size)


def _kept_paths(plan: WallPlan) -> list[str]:
    return list(_kept(plan.keep))


@functools.cache
def _kept(keep: tuple[str, ...]) -> tuple[str, ...]:
    """Folders a run needs that may sit inside a hidden home: Python, its packages, the checkout.
    Worked out once in the warm process (`prepare_paths`), so runs forked from it do not."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *keep}
    # Only Python's own folders and the checkout: a folder on the server's sys.path elsewhere
    # (the current directory, say) stays hidden.
    real = sorted({os.path.realpath(p) for p in paths if os.path.isdir(p)}, key=len)
    # Only the outermost of nested folders: binding the outer one brings the inner ones along.
    outer: list[str] = []
    for path in real:
        if not any(Path(path).is_relative_to(o) for o in outer):
            outer.append(path)
    return tuple(outer)


def _homes() -> list[str]:
    homes = {os.path.expanduser("~"), "/root"}
    with contextlib.suppress(KeyError):
        homes.add(pwd.getpwuid(os.geteuid()).pw_dir)
    return sorted(h for h in homes if h not in ("/", ""))


def _is_real_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.path.islink(path)


def _mask(path: str) -> None:
    """Cover a folder with an empty, closed, read-only tmpfs (a file with /dev/null)."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY
    if os.path.isdir(path):
        _mount("tmpfs", path, "tmpfs", flags, "size=4k,mode=000")
    elif os.path.lexists(path):
        _mount(os.devnull, path, None, MS_BIND)
        _mount(None, path, None, MS_BIND | MS_REMOUNT | flags)


copy_seconds = 0.0  # how long the run's dataset copies took (its account of its time)


def _copy_datasets(scratch: str, templates: Mapping[str, BinaryIO]) -> None:
    """The run's own copies of its datasets, in its scratch folder: whatever it does to them, no
    other run sees it. Made here, inside the walls, so they count against the scratch cap."""
    global copy_seconds
    started = time.monotonic()
    for name, template in templates.items():
        with template, open(os.path.join(scratch, name), "wb") as copy:
            shutil.copyfileobj(template, copy, 1024 * 1024)
    copy_seconds = time.monotonic() - started


def _read_only_everywhere(keep: set[str]) -> None:
    """Every mount read-only but `keep` and /proc (read-only already). A mount that cannot be
    remounted (a FUSE mount root may not even look at, say) is covered by an empty, read-only
    tmpfs instead; if neither works, the run does not start."""
    for point in _mount_points():
        if point in keep or point == "/proc" or point.startswith("/proc/"):
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        try:
            kept = os.statvfs(point).f_flag
            flags |= sum(mount for stat, mount in _KEPT_FLAGS if kept & stat)
        except OSError:
            kept = 0
        if _libc.mount(None, point.encode(), None, flags, None) == 0 or kept & os.ST_RDONLY:
            continue
        if point == "/":
            raise ConfinementFailed(ctypes.get_errno(), "read-only /")
        _mask(point)


_ESCAPED = re.compile(r"\\([0-7]{3})")


def _mount_points() -> list[str]:
    """Mount points as the kernel lists them, with its octal escapes (space, tab, newline,
    backslash) undone."""
    points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            field = line.split()[4]
            points.append(_ESCAPED.sub(lambda match: chr(int(match.group(1), 8)), field))
    return sorted(set(points), key=len)


def _become(uid: int, gid: int, scratch: str) -> None:
    """Root no more: the run's user owns its scratch folder and nothing else."""
    for folder, _, files in os.walk(scratch):
        os.chown(folder, uid, gid)
        for name in files:
            os.chown(os.path.join(folder, name), uid, gid)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)  # the kernel clears every capability as the uid leaves 0


def _readable(plan: WallPlan) -> list[str]:
    return list(_readable_for(plan.hidden, plan.keep))


@functools.cache
def _readable_for(hidden_folders: tuple[str, ...], keep: tuple[str, ...]) -> tuple[str, ...]:
    """Landlock's read list: system folders, Python, and each entry of the checkout except the
    hidden folders (Landlock allows whole trees, so var/ is left out by listing its siblings).
    An entry made after the warm process started is not on it; one since gone is skipped."""
    hidden = {os.path.realpath(h) for h in hidden_folders}
    paths = [*SYSTEM_FOLDERS]
    for path in _kept(keep):
        if any(Path(h).is_relative_to(path) for h in hidden):
            paths.extend(_siblings_outside(path, hidden))
        else:
            paths.append(path)
    return tuple(paths)


def prepare_paths(hidden: tuple[str, ...], keep: tuple[str, ...]) -> None:
    """In the warm process: the folder lists every run's walls are built from."""
    _readable_for(hidden, keep)


def _siblings_outside(folder: str, hidden: set[str]) -> list[str]:
    found = []
    for entry in os.scandir(folder):
        real = os.path.realpath(entry.path)
        if real in hidden:
            continue
        if any(Path(h).is_relative_to(real) for h in hidden) and entry.is_dir():
            found.extend(_siblings_outside(real, hidden))
        else:
            found.append(real)
    return found


def _drop_bounding_set() -> None:
    for capability in range(_LAST_CAPABILITY + 1):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # past the last one it just fails


def _drop_capabilities() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _drop_bounding_set()

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [
            ("effective", ctypes.c_uint32),
            ("permitted", ctypes.c_uint32),
            ("inheritable", ctypes.c_uint32),
        ]

    header = Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (Data * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _mount(
    source: str | None, target: str, kind: str | None, flags: int, options: str | None = None
) -> None:
    def encode(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    result = _libc.mount(encode(source), encode(target), encode(kind), flags, encode(options))
    _check(result, f"mount {target}")


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise ConfinementFailed(errno, f"{what}: {os.strerror(errno)}")
