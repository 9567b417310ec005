"""A seccomp filter for one run, built with libseccomp (the `pyseccomp` binding): system calls a
run has no business making fail with EPERM, whatever its Python does, for it and for everything it
starts. Loaded last, once the run's database connections are open (see
lessons.engine.child.confine).

Refused:
- new sockets and connections (`socket`, `connect`, `bind`, `listen`, `accept`): the run keeps the
  connections it was given and nothing else. `socketpair` stays for connected stream pairs, for
  asyncio's own wake-up pair; `sendto` with an address is refused;
- memory the address-space limit does not see: memfds, System V IPC, POSIX queues, larger
  socket buffers; and the host's pool of asynchronous I/O slots (`io_setup`);
- clearing the parent-death signal that ends the run with its watcher, and becoming dumpable;
- looking into or changing other processes (`ptrace`, `process_vm_*`, `kcmp`, `pidfd_getfd`);
- mounts, new namespaces (`unshare`, `setns`, `clone` with a namespace flag) and `chroot`;
- the kernel's keyrings, BPF, perf events, io_uring (which would do socket work unfiltered),
  userfaultfd, modules, reboot, swap, clocks, host names, accounting and file handles.
`clone3` answers ENOSYS: its flags sit in memory a filter cannot read, and the C library then
falls back to `clone`, whose flags it can.
"""

from __future__ import annotations

import ctypes
import errno
import os
from typing import Any

REFUSED = (
    # network: nothing new once the run's connections are open
    "socket",
    "connect",
    "bind",
    "listen",
    "accept",
    "accept4",
    # leaving the watcher's process group, which the service kills as the run ends
    "setsid",
    "setpgid",
    # other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    # mounts and namespaces
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "unshare",
    "setns",
    # the rest of the kernel a run never needs
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "syslog",
    "vhangup",
    # memory the address-space limit does not count, and that outlives a process: memfds (which
    # could also be run as programs), System V shared memory, queues and semaphores
    "memfd_create",
    "memfd_secret",
    "shmget",
    "shmat",
    "msgget",
    "semget",
    "mq_open",
    # the host's asynchronous I/O slots (fs/aio-max-nr is one pool for every process)
    "io_setup",
)

CLONE_NAMESPACES = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)


SOCKET_TYPE_MASK = 0xF  # the type, without SOCK_NONBLOCK and SOCK_CLOEXEC
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET = 1, 2, 3, 4, 5
PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
SOL_SOCKET = 1
SOCKET_BUFFER_OPTIONS = (7, 8, 32, 33)  # SO_SNDBUF, SO_RCVBUF, SO_SNDBUFFORCE, SO_RCVBUFFORCE


def available() -> bool:
    """Whether libseccomp and its binding load here (Debian's libseccomp2 is on every system)."""
    try:
        _seccomp()
    except (ImportError, OSError, AttributeError):
        return False
    return True


def _seccomp() -> Any:
    import pyseccomp

    return pyseccomp


def build() -> Any:
    """The filter, ready to load: built once in the warm process, loaded by each run."""
    seccomp = _seccomp()
    refuse = seccomp.ERRNO(errno.EPERM)
    syscalls = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in REFUSED:
        try:
            syscalls.add_rule(refuse, name)
        except (OSError, ValueError, RuntimeError):
            continue  # a call this architecture does not have (iopl on arm64, say)
    for flag in CLONE_NAMESPACES:
        syscalls.add_rule(refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    syscalls.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    # socketpair: connected stream pairs only (asyncio's). A datagram pair could send to any
    # unix socket path it can see, and a stream socket ignores an address given to sendto.
    for kind in (SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM):
        kind_is = seccomp.Arg(1, seccomp.MASKED_EQ, SOCKET_TYPE_MASK, kind)
        syscalls.add_rule(refuse, "socketpair", kind_is)
    syscalls.add_rule(refuse, "sendto", seccomp.Arg(4, seccomp.NE, 0))  # with an address
    # Socket buffers are kernel memory RLIMIT_AS does not count: a run keeps the system's
    # default sizes (SO_SNDBUF, SO_RCVBUF and their FORCE twins refused).
    for option in SOCKET_BUFFER_OPTIONS:
        level = seccomp.Arg(1, seccomp.EQ, SOL_SOCKET)
        syscalls.add_rule(refuse, "setsockopt", level, seccomp.Arg(2, seccomp.EQ, option))
    # The parent-death signal that ends the run with its watcher (lessons.engine.child.confine), and
    # whether the process may be dumped (which would open its memory to /proc readers again).
    for option in (PR_SET_PDEATHSIG, PR_SET_DUMPABLE):
        syscalls.add_rule(refuse, "prctl", seccomp.Arg(0, seccomp.EQ, option))
    return syscalls


class Compiled:
    """The filter as libseccomp compiles it (its BPF program), kept as bytes: libseccomp compiles
    a filter again each time it loads one, which costs a run a millisecond or two. The warm
    process compiles once; each run hands the same program to the kernel."""

    def __init__(self, syscalls: Any) -> None:
        read, write = os.pipe()
        with os.fdopen(read, "rb") as program:
            with os.fdopen(write, "wb") as sink:
                syscalls.export_bpf(sink)  # a pipe holds it: a few hundred instructions
            self.program = program.read()

    def load(self) -> None:
        class Program(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buffer = ctypes.create_string_buffer(self.program, len(self.program))
        program = Program(len(self.program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0) != 0:
            number = ctypes.get_errno()
            raise OSError(number, f"seccomp: {os.strerror(number)}")


def compile_filter(syscalls: Any) -> Compiled:
    return Compiled(syscalls)


def load(filter: Any) -> None:
    """Apply the filter to this process for good (it needs no_new_privs, set just before)."""
    filter.load()
