"""Reaping: collecting a child's exit status, at once, for ever, or within a time limit.

One lock per Popen makes sure only one thread calls ``waitpid`` for its child; a thread
that finds it taken knows another one is collecting the status and only watches for
``returncode`` to appear. A timed wait sleeps on a pidfd where the kernel gives one
(opened under the lock while the child is known unreaped, so its pid cannot have been
recycled) and otherwise in short steps that grow to a cap.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from . import _native
from ._errors import TimeoutExpired

if TYPE_CHECKING:
    from ._popen import Popen

__all__ = [
    "blocking_reap",
    "forgotten",
    "reap_forgotten",
    "status_to_code",
    "timed_reap",
    "try_reap",
]

# Popen objects dropped while their child still ran; reap_forgotten() (which every new
# Popen calls) collects them, as the stdlib does with subprocess._active.
forgotten: list[Popen[Any]] = []

_FIRST_STEP = 0.001  # seconds; a poll that finds the child gone after this is the norm
_STEP_CAP = 0.025  # how late a poll loop may notice an exit


def status_to_code(status: int) -> int:
    """Return a ``waitpid`` status as a returncode (negative: the stopping signal)."""
    return -os.WSTOPSIG(status) if os.WIFSTOPPED(status) else os.waitstatus_to_exitcode(status)


def _collect(proc: Popen[Any], flags: int, lost: int | None) -> None:
    """One ``waitpid`` for *proc*'s child (the caller holds its lock)."""
    try:
        pid, status = os.waitpid(proc.pid, flags)
    except ChildProcessError:
        # Someone else reaped it (SIGCHLD ignored, a waitpid(-1) elsewhere): its status is
        # gone. The stdlib reports 0 then; *lost* says otherwise (None: keep waiting).
        if lost is not None:
            proc.returncode = lost
        return
    if pid == proc.pid:
        proc.returncode = status_to_code(status)


def try_reap(proc: Popen[Any], lost: int = 0) -> int | None:
    """Return the returncode if the child has exited, without blocking; else None."""
    if proc.returncode is None and proc._child_created and proc._reap_lock.acquire(False):
        try:
            if proc.returncode is None:  # set by another thread before we got the lock?
                _collect(proc, os.WNOHANG, lost)
        finally:
            proc._reap_lock.release()
    return proc.returncode


def blocking_reap(proc: Popen[Any]) -> int:
    """Wait as long as it takes for the child to exit; its returncode."""
    with proc._reap_lock:
        while proc.returncode is None:
            _collect(proc, 0, 0)
    return proc.returncode


class _Nap:
    """How a timed wait sleeps between looks: on the pidfd if it has one, else in steps."""

    __slots__ = ("pidfd", "step")

    def __init__(self) -> None:
        self.pidfd: int | None = None
        self.step = _FIRST_STEP

    def take(self, left: float, *, fd_usable: bool) -> None:
        if fd_usable and self.pidfd is not None:
            _native.wait_readable(self.pidfd, left)
            return
        time.sleep(min(self.step, left))
        self.step = min(self.step * 2, _STEP_CAP)

    def close(self) -> None:
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def _look(proc: Popen[Any], nap: _Nap) -> bool:
    """One non-blocking look for the exit; False if another thread holds the lock."""
    if not proc._reap_lock.acquire(False):
        return False
    try:
        if proc.returncode is None:
            _collect(proc, os.WNOHANG, 0)
        if proc.returncode is None and nap.pidfd is None:
            nap.pidfd = _native.pidfd_open(proc.pid)  # unreaped, under the lock: safe
    finally:
        proc._reap_lock.release()
    return True


def timed_reap(proc: Popen[Any], seconds: float, reported: object) -> int:
    """Wait at most *seconds* for the child; TimeoutExpired (carrying *reported*) after."""
    deadline = time.monotonic() + seconds
    nap = _Nap()
    try:
        while True:
            looked = _look(proc, nap)
            code = proc.returncode
            if code is not None:
                return code
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutExpired(proc.args, reported)  # type: ignore[arg-type]
            nap.take(left, fd_usable=looked)
    finally:
        nap.close()


def reap_forgotten() -> None:
    """Reap the children of dropped Popen objects that have exited since."""
    for proc in list(forgotten):
        if try_reap(proc, lost=sys.maxsize) is not None:
            with contextlib.suppress(ValueError):
                forgotten.remove(proc)
