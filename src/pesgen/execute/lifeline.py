"""Workers die with their driver: nothing labels on after ``pesgen run`` is killed.

A pool worker's parent is the forkserver, not the driver, and it blocks on a queue whose write
end it holds itself, so a SIGKILLed driver used to leave its workers (and their label
subprocesses) running. Two guards:

- :func:`watch_driver` (the pool workers' initializer) starts a thread that waits for the driver
  to exit (a Linux pidfd; elsewhere a poll every second) and then SIGKILLs the worker's whole
  process tree, label subprocesses in their own sessions included.
- :func:`die_with_parent` (called first by the child of an isolated label,
  :mod:`pesgen.label.isolated`) asks the kernel to SIGKILL the child when the thread that started
  it ends (``prctl(PR_SET_PDEATHSIG)``, Linux), so a worker killed outright orphans no label.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_prctl = None
if sys.platform.startswith("linux"):
    try:
        _prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
        _prctl = None


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent thread ends (Linux; elsewhere a
    no-op); if the parent is gone already (this process was adopted), die now."""
    if _prctl is not None:
        parent = os.getppid()
        _prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if parent == 1 or os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """The pids of ``pid``'s children, grandchildren, ... (from /proc; [] where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree() -> None:
    """SIGKILL every descendant of this process, then this process."""
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    os.kill(os.getpid(), signal.SIGKILL)


def _wait_for_exit(pid: int, poll: float) -> None:
    """Return once process ``pid`` has exited."""
    try:
        fd = os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):  # no pidfd (not Linux >= 5.3), or already gone
        fd = None
    if fd is not None:
        try:
            select.select([fd], [], [])  # readable when the process exits
        finally:
            os.close(fd)
        return
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # a pid reused by someone else's process
            return
        time.sleep(poll)


def watch_driver(driver_pid: int, poll: float = 1.0) -> None:
    """Start a daemon thread that kills this process and its descendants when ``driver_pid`` ends.

    The initializer of :class:`pesgen.execute.local.LocalExecutor`'s workers; a worker whose
    driver is already gone dies at once.
    """
    def watch() -> None:
        _wait_for_exit(driver_pid, poll)
        kill_tree()

    threading.Thread(target=watch, name="pesgen-driver-watch", daemon=True).start()
