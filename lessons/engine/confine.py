"""Operating-system walls around one run, where the server may build them (it runs as root).

The audit hook in lessons.engine.sandbox is Python code a determined run can switch off; these
walls are the kernel's, and stay up whatever the run's Python does:

- new mount and PID namespaces: the run sees only its own processes (a fresh /proc), and when it
  ends the kernel kills everything it started;
- a network namespace with no interface up (the warm process's, shared by its runs): no network
  at all, not even loopback;
- every file system read-only except the run's scratch folder, and the course's var/ folder
  (secret key, sessions, the real datasets) hidden under an empty, closed tmpfs;
- every capability dropped, for good (bounding set, no_new_privs): the run cannot remount,
  mount, trace or signal anything outside itself.

Without root (a learner's own machine) none of this is possible; the run then relies on the audit
hook and the limits alone, as SECURITY.md says.
"""

from __future__ import annotations

import ctypes
import os
import tempfile
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_LAST_CAPABILITY = 63

_libc = ctypes.CDLL(None, use_errno=True)


class ConfinementFailed(OSError):
    pass


_works: bool | None = None


def available() -> bool:
    """Whether this machine lets the server build the walls: tried once, in a throwaway process."""
    global _works
    if _works is None:
        _works = os.geteuid() == 0 and hasattr(_libc, "unshare") and _probe()
    return _works


def _probe() -> bool:
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            enter_namespaces()
            inner = os.fork()
            if inner == 0:
                try:
                    scratch = tempfile.mkdtemp(prefix="course-probe-")
                    wall_in(scratch, [])
                    os._exit(0)
                except BaseException:
                    os._exit(1)
            status = os.waitstatus_to_exitcode(os.waitpid(inner, 0)[1])
        finally:
            os._exit(status)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


_network_left = False


def leave_network() -> bool:
    """Move this process into a network namespace of its own, with no interface up. Done once in
    the warm process, so that every run forked from it starts without a network: a namespace per
    run would cost the kernel several milliseconds of clean-up work after each one."""
    global _network_left
    if not _network_left:
        _network_left = _libc.unshare(CLONE_NEWNET) == 0
    return _network_left


def enter_namespaces() -> None:
    """Unshare mounts, PIDs and, unless the warm process already left it, the network. The calling
    process stays in the old PID namespace: the next process it forks is the first (PID 1) of the
    new one."""
    network = 0 if _network_left else CLONE_NEWNET
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWPID | network), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def wall_in(scratch: str, hidden: tuple[str, ...] | list[str]) -> None:
    """Inside the new PID namespace: a fresh /proc, every mount read-only but `scratch`,
    `hidden` folders covered, then every capability gone."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount(scratch, scratch, None, MS_BIND | MS_REC)
    # Nothing the run writes can be executed or loaded as native code.
    _mount(None, scratch, None, MS_BIND | MS_REMOUNT | MS_NOEXEC | MS_NOSUID | MS_NODEV)
    for folder in hidden:
        if Path(folder).is_dir():
            _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
    keep = {os.path.realpath(scratch), "/proc", *map(os.path.realpath, hidden)}
    for point in _mount_points():
        if point in keep or point.startswith("/proc/"):
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        if _libc.mount(None, point.encode(), None, flags, None) != 0 and point == "/":
            raise ConfinementFailed(ctypes.get_errno(), "read-only /")
    _drop_capabilities()


def _mount_points() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as mountinfo:
        for line in mountinfo:
            points.append(line.split()[4].replace("\\040", " "))
    return sorted(set(points), key=len)


def _drop_capabilities() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    for capability in range(_LAST_CAPABILITY + 1):
        _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)  # past the last one it just fails

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
