r"""The resource tracker: one process per process tree that removes what the dead left.

A named semaphore or a shared-memory segment outlives the process that made it. Each
one is *registered* with the tracker when it is made and *unregistered* when it is
removed; when the tracker's pipe reports end of file (every process of the tree that
held its write end has exited, however it ended) whatever is still registered is
removed and reported on standard error as a ``UserWarning``.

The wire is treadle's own: one line per message, at most :data:`MESSAGE_MAX` bytes so
that a write to the pipe is atomic (POSIX guarantees ``PIPE_BUF >= 512``)::

    b"+" rtype b":" name b"\\n"     register
    b"-" rtype b":" name b"\\n"     unregister
    b"?" b"noop:" b"\\n"           probe: is the tracker still reading?

The rtype comes first and never holds a colon, so a name may hold anything but a
newline or a NUL. A line the tracker cannot read is reported and skipped; the tracker
never stops before the end of its input. It ignores SIGINT and SIGTERM (a Ctrl-C
meant for the program must not kill the process that cleans up after it).

Who holds the write end: the process that started the tracker, its fork children
started through :mod:`treadle.multiprocessing` (:func:`fork_keeps_fd`), its spawn
children (the descriptor is passed on and :func:`adopt`-ed) and forkserver children
(sent with each request). A bare ``os.fork()`` child closes its copy, as 3.14's does,
so that the parent can stop the tracker without waiting for that child.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections import deque

from . import _native, _services

# Every spawned child imports this module (it adopts its parent's tracker): typing,
# signal (with enum) and warnings are imported only where they are used, so that the
# child does not pay for them at start-up.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO, Any, Protocol

    class _Lock(Protocol):
        def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
        def release(self) -> None: ...
        def __enter__(self) -> bool: ...
        def __exit__(self, *exc_info: object) -> None: ...


__all__ = [
    "CLEANUP",
    "MESSAGE_MAX",
    "ReentrantCallError",
    "ResourceTracker",
    "adopt",
    "ensure_running",
    "fork_keeps_fd",
    "getfd",
    "main",
    "register",
    "tracker",
    "unregister",
]

#: The longest message line, newline included: one atomic write to a pipe.
MESSAGE_MAX = 512

_REGISTER = b"+"
_UNREGISTER = b"-"
_PROBE = b"?noop:\n"
_OPS = (_REGISTER, _UNREGISTER, b"?")


def _shielded() -> tuple[int, int]:
    """Return the signals the tracker ignores (a Ctrl-C for the program must not end it)."""
    import signal  # noqa: PLC0415 - see the note at the imports

    return (signal.SIGINT, signal.SIGTERM)


def _nothing_to_remove(name: str) -> None:
    """Remove nothing: the test types' names stand for nothing."""


#: How each resource type is removed, by its registered name. 'noop' is for tests (its
#: leak is reported); 'dummy' is the type CPython's tests use (its leak is not reported).
CLEANUP: dict[str, Callable[[str], None]] = {
    "noop": _nothing_to_remove,
    "dummy": _nothing_to_remove,
    "semaphore": _native.sem_unlink,
    "shared_memory": _native.shm_unlink,
}
_UNREPORTED = frozenset({"dummy"})


class ReentrantCallError(RuntimeError):
    """The tracker was called from a finalizer inside one of its own calls."""


# ---------------------------------------------------------------------------------------
# Messages.


def _encode(op: bytes, name: object, rtype: object) -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, not {type(name).__name__}")
    if not isinstance(rtype, str):
        raise TypeError(f"rtype must be a str, not {type(rtype).__name__}")
    if not rtype or not rtype.isascii() or ":" in rtype or "\n" in rtype:
        raise ValueError(f"rtype {rtype!r} is not a resource type name")
    if "\n" in name or "\0" in name:
        raise ValueError(f"name {name!r} holds a newline or a NUL")
    line = b"".join((op, rtype.encode("ascii"), b":", os.fsencode(name), b"\n"))
    if len(line) > MESSAGE_MAX:
        raise ValueError(
            f"name too long: its message would take {len(line)} bytes, "
            f"more than the {MESSAGE_MAX} of one atomic pipe write"
        )
    return line


def _decode(line: bytes) -> tuple[bytes, str, str]:
    """Split one message line into (operation, rtype, name); ValueError when malformed."""
    op = line[:1]
    kind, colon, raw = line[1:-1].partition(b":")
    if op not in _OPS or not colon or not line.endswith(b"\n"):
        raise ValueError(f"malformed message {line[:80]!r}")
    rtype = kind.decode("ascii", "replace")
    if rtype not in CLEANUP:
        raise ValueError(f"unknown resource type {rtype!r} in {line[:80]!r}")
    return op, rtype, os.fsdecode(raw)


# ---------------------------------------------------------------------------------------
# The tracker process.


def _report(text: str) -> None:
    import warnings  # noqa: PLC0415 - see the note at the imports

    warnings.warn(f"resource_tracker: {text}", UserWarning, stacklevel=2)


def _read_lines(stream: IO[bytes]) -> Iterator[bytes | None]:
    """Yield each message line; None for a line too long to be a message (skipped)."""
    while line := stream.readline(MESSAGE_MAX + 1):
        if line.endswith(b"\n"):
            yield line
            continue
        while line and not line.endswith(b"\n"):
            line = stream.readline(MESSAGE_MAX + 1)
        yield None


def _remove_leftovers(held: dict[str, dict[str, None]]) -> int:
    """Remove and report what is still registered; return the tracker's exit status."""
    leaked = failed = False
    for rtype, names in held.items():
        if not names:
            continue
        leaked = True
        if rtype not in _UNREPORTED:
            _report(
                f"There appear to be {len(names)} leaked {rtype} objects to clean up "
                f"at shutdown: {set(names)!r}"
            )
        remove = CLEANUP[rtype]
        for name in names:
            try:
                remove(name)
            except Exception as exc:
                failed = True
                _report(f"{name!r}: {exc}")
    return 2 if failed else 1 if leaked else 0


def main(fd: int) -> None:
    """Run the tracker on the read end *fd* of its pipe until every writer is gone.

    Exit status: 0 when nothing was left, 1 when leaks were removed, 2 when one could
    not be removed, 3 when only malformed messages were seen.
    """
    import signal  # noqa: PLC0415 - see the note at the imports

    for signum in _shielded():
        signal.signal(signum, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _shielded())
    for stream in (sys.stdin, sys.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    held: dict[str, dict[str, None]] = {rtype: {} for rtype in CLEANUP}
    garbled = False
    with open(fd, "rb") as pipe:
        for line in _read_lines(pipe):
            try:
                if line is None:
                    raise ValueError(f"message longer than {MESSAGE_MAX} bytes dropped")
                op, rtype, name = _decode(line)
                if op == _REGISTER:
                    held[rtype][name] = None
                elif op == _UNREGISTER and held[rtype].pop(name, False) is not None:
                    raise ValueError(f"{rtype} {name!r} was never registered")
            except ValueError as exc:
                garbled = True
                print(f"resource_tracker: {exc}", file=sys.stderr, flush=True)
    status = _remove_leftovers(held)
    sys.exit(status or (3 if garbled else 0))


# ---------------------------------------------------------------------------------------
# The client side, in every process of the tree.

# This module is imported by every spawned child (it adopts its parent's tracker), so it
# imports neither treadle.threading nor contextlib: a spawned child starts faster without
# them. The lock is made on first use and the threads inside fork_keeps_fd() are known
# by their ident.

# The threads forking a child that keeps the tracker (the 'fork' Popen): read in the
# child by the at-fork handler, where the forking thread has the same ident.
_keepers: set[int] = set()


# The thread's identifier (threading.get_ident is this builtin), with no import per call:
# the fork start method asks for it around every fork, and in the child.
_ident = _native.get_ident


class fork_keeps_fd:
    """Let an ``os.fork()`` done inside this block keep the tracker's descriptor.

    The 'fork' start method wraps its fork in it; a child forked anywhere else closes
    the descriptor (3.14's rule).
    """

    def __enter__(self) -> None:
        _keepers.add(_ident())

    def __exit__(self, *exc_info: object) -> None:
        _keepers.discard(_ident())


class _shielded_signals:
    # The tracker inherits this mask and unblocks the signals once it ignores them, so a
    # Ctrl-C at the wrong moment cannot kill it before it protects itself.
    def __enter__(self) -> None:
        import signal  # noqa: PLC0415 - see the note at the imports

        self.previous: Any = None
        if hasattr(signal, "pthread_sigmask"):
            self.previous = signal.pthread_sigmask(signal.SIG_BLOCK, _shielded())

    def __exit__(self, *exc_info: object) -> None:
        if self.previous is not None:
            import signal  # noqa: PLC0415 - see the note at the imports

            signal.pthread_sigmask(signal.SIG_SETMASK, self.previous)


def _reap(pid: int, timeout: float | None) -> int | None:
    """Wait up to *timeout* seconds for child *pid*; its wait status, or None if running."""
    if timeout is None:
        return os.waitpid(pid, 0)[1]
    import select  # noqa: PLC0415 - the parent only, at stop
    import time  # noqa: PLC0415

    pidfd = _native.pidfd_open(pid)
    if pidfd is not None:
        try:
            select.select([pidfd], [], [], max(timeout, 0.0))
        finally:
            os.close(pidfd)
        timeout = 0.0
    # Without a pidfd: look again and again, less and less often, until the deadline.
    give_up = time.monotonic() + timeout
    pause = 0.001
    while not (ended := os.waitpid(pid, os.WNOHANG))[0]:
        left = give_up - time.monotonic()
        if left <= 0:
            return None
        time.sleep(min(pause, left))
        pause *= 2
    return ended[1]


class ResourceTracker:
    """One process's end of a resource tracker.

    The attribute names (``_fd``, ``_pid``, ``_exitcode``, ``_lock``,
    ``_waitpid_timed_out``, ``_check_alive``, ``_stop``) are those CPython's tests
    reach into; they keep their meaning.
    """

    # 3.14's tracker speaks two line formats and CPython's tests patch this flag to test
    # both. treadle's tracker has one format of its own, which carries any name (colons
    # included), so the flag is there for the tests to set and changes nothing.
    _use_simple_format = True

    def __init__(self) -> None:
        """Make a tracker end that starts its process on first use."""
        self._made_lock: _Lock | None = None
        self._fd: int | None = None
        self._pid: int | None = None
        self._exitcode: int | None = None
        self._waitpid_timed_out = False
        self._inside = 0
        self._deferred: deque[bytes] = deque()

    @property
    def _lock(self) -> _Lock:
        """The lock of every operation (made on first use; CPython's tests take it)."""
        lock = self._made_lock
        if lock is None:
            from treadle.threading import RLock  # noqa: PLC0415 - see the module's note

            lock = self._made_lock = RLock()  # type: ignore[assignment,unused-ignore]
        return lock

    def __del__(self) -> None:
        """Stop a tracker this object started, without waiting long."""
        try:
            self._stop(use_blocking_lock=False, wait_timeout=1.0)
        except Exception:
            pass

    # public operations -------------------------------------------------------------

    def ensure_running(self) -> None:
        """Start the tracker unless one this process can reach is running.

        A tracker that died is started again, with a warning that the resources it
        held may have leaked.
        """
        self._deliver(None)

    def getfd(self) -> int:
        """Return the write end of the tracker's pipe, starting the tracker if needed."""
        self._deliver(None)
        fd = self._fd
        if fd is None:  # pragma: no cover - _deliver either sets it or raises
            raise RuntimeError("the resource tracker did not start")
        return fd

    def register(self, name: str, rtype: str) -> None:
        """Ask the tracker to remove resource *name* of type *rtype* if it is left."""
        self._deliver(_encode(_REGISTER, name, rtype))

    def unregister(self, name: str, rtype: str) -> None:
        """Tell the tracker that *name* of type *rtype* was removed by its owner."""
        self._deliver(_encode(_UNREGISTER, name, rtype))

    # CPython's tests call the methods below ------------------------------------------

    def _check_alive(self) -> bool:
        """Whether the tracker still reads its pipe (a probe message goes through)."""
        fd = self._fd
        if fd is None:
            return False
        try:
            os.write(fd, _PROBE)
        except OSError:
            return False
        return True

    def _stop(self, use_blocking_lock: bool = True, wait_timeout: float | None = None) -> None:
        """Close this process's end and wait for a tracker it started to exit.

        *wait_timeout* bounds the wait: a child that still holds the pipe keeps the
        tracker running, and then ``_waitpid_timed_out`` becomes true.
        """
        if self._pid is None:
            return  # nothing this process started (and no lock to make at exit)
        taken = self._lock.acquire(use_blocking_lock)
        try:
            if self._inside:
                raise ReentrantCallError("the resource tracker was stopped from inside a call")
            self._halt(wait_timeout)
        finally:
            if taken:
                self._lock.release()

    def _after_fork_in_child(self) -> None:
        self._made_lock = None  # another thread may have held it at the fork
        self._inside = 0
        self._deferred.clear()
        self._pid = None
        self._exitcode = None
        fd = self._fd
        keep = bool(_keepers) and _ident() in _keepers
        # Read once: the child's copy is stale now (its forker need not leave the block,
        # the fork Popen's child never does), and a later fork here starts afresh.
        _keepers.clear()
        if fd is not None and not keep:
            self._fd = None
            try:
                os.close(fd)
            except OSError:
                pass
        if self._fd is None:
            _services.withdraw(self)
        else:
            _services.announce(self, None, (self._fd,))

    def _adopt(self, fd: int) -> None:
        # At a child's start-up, before any other thread: no lock (see the module's note).
        self._fd = fd
        self._pid = None
        self._exitcode = None
        _services.announce(self, None, (fd,))

    # machinery -----------------------------------------------------------------------

    def _deliver(self, line: bytes | None) -> None:
        with self._lock:
            if self._inside:
                # A finalizer run by the garbage collector in the middle of one of our
                # calls, on this thread: send its message when the outer call is done.
                if line is None:
                    raise ReentrantCallError(
                        "the resource tracker was called again from inside a call"
                    )
                self._deferred.append(line)
                return
            self._inside += 1
            try:
                if self._fd is not None and (
                    self._write(line) if line is not None else self._still_running()
                ):
                    line = None
                else:
                    if self._fd is not None:
                        self._bury()
                    self._launch()
                while self._deferred:
                    self._must_write(self._deferred.popleft())
                if line is not None:
                    self._must_write(line)
            finally:
                self._inside -= 1

    def _still_running(self) -> bool:
        """Whether the tracker reached by ``_fd`` still runs, without waking it if we can.

        A tracker this process started is our child: ``waitpid`` tells. One inherited
        from the parent is asked with a probe message.
        """
        pid = self._pid
        if pid is None:
            return self._write(_PROBE)
        try:
            return os.waitpid(pid, os.WNOHANG)[0] == 0
        except ChildProcessError:
            return False  # reaped by someone else: gone

    def _write(self, data: bytes) -> bool:
        try:
            os.write(self._fd, data)  # type: ignore[arg-type]
        except OSError:
            return False
        return True

    def _must_write(self, data: bytes) -> None:
        if not self._write(data):
            raise OSError(f"the resource tracker (pid {self._pid}) stopped reading")

    def _bury(self) -> None:
        """Forget a tracker that stopped reading, and warn."""
        fd, pid = self._fd, self._pid
        self._fd = self._pid = self._exitcode = None
        _services.withdraw(self)
        if fd is not None:
            os.close(fd)
        if pid is not None:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        import warnings  # noqa: PLC0415 - see the note at the imports

        warnings.warn(
            "resource_tracker: process died unexpectedly, relaunching.  Some resources might leak.",
            UserWarning,
            stacklevel=5,
        )

    def _launch(self) -> None:
        read_end, write_end = os.pipe()
        try:
            args = _services.command(
                f"from treadle.multiprocessing._tracker import main; main({read_end})"
            )
            with _shielded_signals():
                pid = _native.fork_exec_passfds(
                    os.fsencode(args[0]), [os.fsencode(a) for a in args], (read_end,)
                )
        except BaseException:
            os.close(write_end)
            raise
        finally:
            os.close(read_end)
        self._fd, self._pid, self._exitcode = write_end, pid, None
        self._waitpid_timed_out = False
        _services.announce(self, pid, (write_end,))

    def _halt(self, wait_timeout: float | None) -> None:
        fd, pid = self._fd, self._pid
        if fd is None or pid is None:
            return  # not started by this process: its starter stops it
        self._fd = None
        _services.withdraw(self)
        os.close(fd)
        try:
            status = _reap(pid, wait_timeout)
        except ChildProcessError:
            status = None
        self._pid = None
        if status is None:
            self._exitcode = None
            self._waitpid_timed_out = wait_timeout is not None
            return
        try:
            self._exitcode = os.waitstatus_to_exitcode(status)
        except ValueError:
            self._exitcode = None


#: The tracker end of this process (CPython's tests call it ``_resource_tracker``).
tracker = ResourceTracker()


def ensure_running() -> None:
    """Start this tree's tracker unless it runs (a dead one is restarted, with a warning)."""
    tracker.ensure_running()


def register(name: str, rtype: str) -> None:
    """Ask the tracker to remove resource *name* of type *rtype* if it is left behind."""
    tracker.register(name, rtype)


def unregister(name: str, rtype: str) -> None:
    """Tell the tracker that resource *name* of type *rtype* was removed by its owner."""
    tracker.unregister(name, rtype)


def getfd() -> int:
    """Return the descriptor that reaches this tree's tracker, starting it if needed."""
    return tracker.getfd()


def adopt(fd: int) -> None:
    """Use *fd*, inherited from the parent, as this process's end of its tracker."""
    tracker._adopt(fd)


def _stop_at_exit() -> None:
    tracker._stop(use_blocking_lock=False, wait_timeout=1.0)


atexit.register(_stop_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=tracker._after_fork_in_child)


def _stop() -> None:
    """Stop the tracker this process started (the package's test clean-up calls it)."""
    tracker._stop()
