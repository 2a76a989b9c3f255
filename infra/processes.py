"""Process plumbing on Linux: tie a child's life to its parent, find free ports, walk /proc.

Why SIGKILL on the parent's death: a service whose supervisor died cannot be stopped in order
any more, and a graceful shutdown that hangs (Faust's can) would leave it running for minutes.
Nothing is lost by it: the broker is durable and every consumer commits only what it finished.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(option, value)


def die_with_parent(parent: int | None = None) -> None:
    """In a child: be SIGKILLed when the parent dies. Call it first thing in the child (or as
    `preexec_fn`); with `parent`, also exit at once if that parent died before the call."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def become_subreaper() -> None:
    """Adopt orphaned descendants (a dead service's children) instead of leaving them to init,
    so that `kill_descendants` still finds them."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    """Nothing listens there. (Connections of a stopped listener lingering in TIME_WAIT do not
    count: a restarted broker may bind over them, as SO_REUSEADDR allows.)"""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pid_alive(pid: int) -> bool:
    """Running, and not a zombie (a zombie holds no resources; its parent reaps it later)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, by parent links in /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def adopted(known: set[int]) -> list[int]:
    """Our children that we did not start: orphans adopted as a subreaper."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        pid = int(stat.parent.name)
        if fields[1] == me and pid not in known:
            found.append(pid)
    return found


def reap_orphans(known: set[int]) -> None:
    """Kill and reap adopted orphans: their service died, so they have nobody to work for."""
    for pid in adopted(known):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def kill_descendants(pid: int) -> list[int]:
    """SIGKILL whatever still runs below `pid` and reap what became ours; returns the pids."""
    left = sorted(descendants(pid))
    for child in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)
    for child in left:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(child, 0)  # only our own (adopted) children can be reaped here
    return left
