"""Landlock, the kernel's unprivileged access control, for one run (see
lessons.engine.child.confine).

A ruleset lists what a process may still do; once it restricts itself, the kernel refuses the
rest to it and to everything it starts, whatever its user, and nothing undoes that. The `landlock`
package on PyPI binds only the file rights of the first version; a run also needs the network and
scope rights of later ones, so this is a small binding of the three system calls (their numbers
are the same on every architecture) and of the structures in <linux/landlock.h>.

- files: read and execute only beneath the folders given, every right beneath the scratch folder;
- network (ABI 4, Linux 6.7): no TCP connect or bind at all;
- scopes (ABI 6, Linux 6.12): no abstract unix socket outside the run, no signal outside it.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_ABI_1 = (1 << 13) - 1  # EXECUTE ... MAKE_SYM
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
BIND_TCP, CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV  # what a file rule may hold

_libc = ctypes.CDLL(None, use_errno=True)


class LandlockUnavailable(OSError):
    pass


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi() -> int:
    """The Landlock version this kernel offers, 0 if none (not built in, or not enabled)."""
    version = _libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return max(int(version), 0)


def handled_fs(version: int) -> int:
    rights = _FS_ABI_1
    if version >= 2:
        rights |= REFER
    if version >= 3:
        rights |= TRUNCATE
    if version >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(read: Iterable[str], write: Iterable[str], files: Iterable[str] = ()) -> int:
    """Restrict this thread (a run's single-threaded process) and what it starts: read-only
    beneath `read`, everything beneath `write`, read and write on the single `files` (such as
    /dev/null). Needs no_new_privs set first. Returns the ABI used."""
    version = abi()
    if version < 1:
        raise LandlockUnavailable(0, "Landlock is not enabled in this kernel")
    fs = handled_fs(version)
    attr = _RulesetAttr(fs, 0, 0)
    size = 8
    if version >= 4:
        attr.handled_access_net = BIND_TCP | CONNECT_TCP  # and no rule allows any port
        size = 16
    if version >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    ruleset = _check(_libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0))
    try:
        for paths, rights in ((read, READ), (write, fs), (files, READ_FILE | WRITE_FILE)):
            for path in paths:
                _allow(ruleset, path, rights, fs)
        _check(_libc.syscall(_RESTRICT_SELF, ruleset, 0))
    finally:
        os.close(ruleset)
    return version


def _allow(ruleset: int, path: str, rights: int, handled: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # nothing there to allow (no /lib32 on this system, say)
    try:
        if not os.path.isdir(path):
            rights &= FILE_RIGHTS  # a file rule may not hold directory rights
        beneath = _PathBeneathAttr(rights & handled, fd)
        _check(_libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(beneath), 0))
    finally:
        os.close(fd)


def _check(result: int) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockUnavailable(errno, f"landlock: {os.strerror(errno)}")
    return result
