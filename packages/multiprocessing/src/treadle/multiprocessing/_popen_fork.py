"""The ``fork`` start method: the child is a copy of this process made by ``os.fork()``.

Also the base of the other POSIX Popens (waiting, signals, closing are the same).
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Any, NoReturn

from . import _native, _tracker, _util

__all__ = ["Popen"]


def _check_timeout(timeout: object) -> float | None:
    if timeout is None or type(timeout) is float or type(timeout) is int:
        return timeout
    from treadle.thread_core.support import check_timeout

    return check_timeout(timeout, "timeout")


class Popen:
    """A child process started with fork; the parent's handle on it."""

    method = "fork"

    def __init__(self, process_obj: Any) -> None:
        _util._flush_std_streams()
        self.returncode: int | None = None
        self.finalizer: Any = None
        self.pid: int = 0
        self.sentinel: int = -1
        self._launch(process_obj)

    def duplicate_for_child(self, fd: int) -> int:
        """Return *fd*: a fork child inherits every descriptor under its own number."""
        return fd

    def poll(self, flag: int = os.WNOHANG) -> int | None:
        """Reap the child if it ended (*flag* 0 waits); return its exit code or None."""
        code = self.returncode
        if code is None:
            code = self.returncode = _reap(self.pid, flag)
        return code

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child to end (at most *timeout* seconds); its exit code or None."""
        code = self.returncode
        if code is not None:
            return code
        flag = 0
        if timeout is not None:
            timeout = _check_timeout(timeout)
            if timeout is not None:
                if not _native.fd_ready(self.sentinel, timeout):
                    return None
                flag = os.WNOHANG if timeout == 0.0 else 0
        # Reaped here rather than through poll(): join() is on the path of every start,
        # and in the fork method each Python function it runs is a page the kernel copies
        # while the child lives.
        code = self.returncode = _reap(self.pid, flag)
        return code

    def _send_signal(self, signum: int) -> None:
        # The pid is safe to signal while unreaped (returncode None); an error other
        # than "no such process" counts only if the child has not just ended.
        failure: OSError | None = None
        if self.returncode is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                return
            except OSError as exc:
                failure = exc
        if failure is not None and self.wait(timeout=0.1) is None:
            raise failure

    def interrupt(self) -> None:
        """Send SIGINT."""
        self._send_signal(signal.SIGINT)

    def terminate(self) -> None:
        """Send SIGTERM."""
        self._send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL."""
        self._send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Close the descriptors kept for the child."""
        if self.finalizer is not None:
            self.finalizer()

    def _launch(self, process_obj: Any) -> None:
        # Two pipes: the parent's read end of the first sees EOF when the child ends
        # (the sentinel); the child's read end of the second when the parent does.
        global _announced_threads
        _announced_threads = False
        if not _native.lone_thread():
            _warn_if_threads(process_obj)  # first: with -W error it raises, nothing leaks
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        self.pid = _fork(process_obj, child_r, (parent_r, parent_w))
        os.close(child_w)
        os.close(child_r)
        self.finalizer = _util.Finalize(self, _util.close_fds, (parent_r, parent_w))
        self.sentinel = parent_r


def _reap(pid: int, flag: int) -> int | None:
    """Collect *pid*'s exit status if it ended (flag 0: wait for it); its exit code."""
    try:
        reaped, status = os.waitpid(pid, flag)
    except OSError:
        return None  # reaped by someone else (or not made yet): nothing to learn
    return os.waitstatus_to_exitcode(status) if reaped else None


def _fork(process_obj: Any, child_r: int, parent_fds: tuple[int, int]) -> int:
    """Fork; the child runs *process_obj* and ends, the parent gets the child's pid."""
    # The child keeps the resource tracker's descriptor (a bare os.fork() child closes
    # it). 3.12+ os.fork() warns about threads itself; when this module already warned
    # (naming them), that second, vaguer warning is dropped. The child starts its work
    # inside the block, which it never leaves: it would only undo there what its
    # at-fork handler has already reset.
    with _tracker.fork_keeps_fd():
        if not (_native.OS_FORK_WARNS and _announced_threads):
            pid = os.fork()
        else:
            pid = _fork_without_second_warning()
        if pid == 0:
            _child_main(process_obj, child_r, parent_fds)
        return pid


def _fork_without_second_warning() -> int:
    # Its own function: the child leaves catch_warnings() (restoring the filters) before
    # it runs anything.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork")
        return os.fork()


_announced_threads = False


def _other_threads() -> list[str]:
    threading = sys.modules.get("threading")
    if threading is None:
        return []
    me = threading.get_ident()
    return [t.name for t in threading.enumerate() if t.ident != me and t.is_alive()]


def _warn_if_threads(process_obj: Any) -> None:
    """DeprecationWarning (3.12's, on every Python) when other threads run; names them."""
    global _announced_threads
    names = _other_threads()
    _announced_threads = bool(names)
    if not names:
        return
    listed = ", ".join(repr(name) for name in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    # The stdlib's words first, so that a filter written for 3.12's warning matches.
    warnings.warn(
        f"This process (pid={os.getpid()}) is multi-threaded, use of fork() may lead to "
        f"deadlocks in the child. Other threads running: {listed}{more}.",
        DeprecationWarning,
        stacklevel=_caller_level(),
    )


def _caller_level() -> int:
    # Point the warning at the code that called Process.start().
    frame = _native.caller_frame(1)
    level = 1
    package = __name__.rpartition(".")[0] + "."
    while frame is not None and frame.f_globals.get("__name__", "").startswith(package):
        frame = frame.f_back
        level += 1
    return level


def _child_main(process_obj: Any, child_r: int, parent_fds: tuple[int, int]) -> NoReturn:
    # The fork child: 3.13+'s behaviour on every Python: the atexit handlers it
    # inherited are dropped, those it registers run before it ends.
    code = 1
    try:
        _native.clear_atexit()
        for fd in parent_fds:
            os.close(fd)
        code = process_obj._bootstrap(parent_sentinel=child_r)
    finally:
        try:
            _native.run_atexit()
        finally:
            _native.exit_now(code)
