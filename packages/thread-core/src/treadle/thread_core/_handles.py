"""Joinable thread handles written in Python, for interpreters that lack them (3.12-).

3.13 gave the interpreter ``_ThreadHandle``: ``join()`` waits for the OS thread itself
and the interpreter joins non-daemon handles at exit. Before 3.13 :mod:`._native`
takes these names from here instead. A handle is built on two gates (see
:mod:`.support`):

* *ready*, held from the moment the thread is claimed until the new thread has taken
  its sentinel, so that a joiner never looks at a sentinel that does not exist yet;
* the *sentinel*, a lock the interpreter itself releases when the thread's state is
  destroyed (after every Python frame of the thread has finished), taken by the new
  thread as its first act. Once it opens, the thread is really gone.

Non-daemon handles are remembered, so that ``join_non_daemon_threads()`` (run by
``treadle.thread_core.runtime`` at the stdlib's thread-join moment of interpreter exit)
can wait for them, and so that a forked child can mark the vanished ones done.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from time import monotonic

from ._native import (
    LockType,
    PythonFinalizationError,
    allocate_lock,
    get_ident,
    native_start,
    set_sentinel,
)
from .support import check_timeout, pass_gate

__all__ = [
    "ThreadHandle",
    "handles_after_fork",
    "join_non_daemon_threads",
    "start_bootstrap",
    "start_on_handle",
]

_UNSTARTED = "unstarted"
_STARTED = "started"
_FINISHED = "finished"

# Handles of started threads not yet seen to finish. Adding and discarding cost no
# Python call; finished handles that nobody joined are swept out whenever the set has
# doubled since the last sweep, so it stays about as large as the number of live threads.
_started: set[ThreadHandle] = set()
_sweep_at = 16
_started_lock = allocate_lock()


def _remember(handle: ThreadHandle) -> None:
    global _sweep_at
    with _started_lock:
        if len(_started) >= _sweep_at:
            _started.difference_update([h for h in _started if h._finished_unlocked()])
            _sweep_at = max(16, 2 * len(_started))
        _started.add(handle)


def _forget(handle: ThreadHandle) -> None:
    with _started_lock:
        _started.discard(handle)


class ThreadHandle:
    """A handle on an OS thread started by ``start_joinable_thread``.

    ``join()`` waits for the thread's end, ``is_done()`` tells whether it ended, and
    ``ident`` is its identifier (0 before it starts).
    """

    __slots__ = ("__weakref__", "_daemon", "_ident", "_ready", "_sentinel", "_state")
    __module__ = "treadle.thread_core"

    def __init__(self) -> None:
        self._ident = 0
        self._state = _UNSTARTED
        self._daemon = True
        self._ready: LockType | None = None
        self._sentinel: LockType | None = None

    def __repr__(self) -> str:
        return f"<treadle.thread_core._ThreadHandle object: ident={self._ident}>"

    @property
    def ident(self) -> int:
        """The thread's identifier, or 0 before it starts."""
        return self._ident

    # ------------------------------------------------------------------ life cycle

    def _claim(self, daemon: bool) -> None:
        # In the starting thread, before the OS thread exists.
        if self._state is not _UNSTARTED:
            raise RuntimeError("thread already started")
        ready = allocate_lock()
        ready.acquire()
        self._ready = ready
        self._daemon = daemon
        self._state = _STARTED
        _remember(self)

    def _unclaim(self) -> None:
        # The OS thread could not be started: the handle is as new again, and a joiner
        # already waiting for the thread to begin is let go.
        _forget(self)
        ready = self._ready
        self._ready = None
        self._state = _UNSTARTED
        if ready is not None:
            ready.release()

    def _run(self, bootstrap: Callable[[], object]) -> None:
        # The new thread's first act: learn its ident and hold its sentinel, then let
        # joiners through the ready gate and run the bootstrap.
        self._ident = get_ident()
        sentinel = set_sentinel()
        sentinel.acquire()
        self._sentinel = sentinel
        ready = self._ready
        if ready is not None:
            ready.release()
        bootstrap()

    def _mark_finished(self) -> None:
        self._state = _FINISHED
        _forget(self)

    def _finished_unlocked(self) -> bool:
        # is_done() without its bookkeeping, for a caller that holds _started_lock.
        if self._state is _FINISHED:
            return True
        sentinel = self._sentinel
        return sentinel is not None and not sentinel.locked()

    # ------------------------------------------------------------------ the API

    def is_done(self) -> bool:
        """Return whether the thread has finished."""
        if self._state is _FINISHED:
            return True
        if self._finished_unlocked():
            self._mark_finished()
            return True
        return False

    def join(self, timeout: float | None = None) -> None:
        """Wait until the thread ends, or until *timeout* seconds have passed.

        A *timeout* of None, or a negative one, waits for as long as it takes.
        """
        limit = check_timeout(timeout)
        if limit is not None and limit < 0.0:
            limit = None
        if self._state is _UNSTARTED:
            raise RuntimeError("thread not started")
        if self.is_done():
            return
        if self._ident == get_ident():
            raise RuntimeError("Cannot join current thread")
        deadline = None if limit is None else monotonic() + limit
        ready = self._ready
        if ready is not None and not pass_gate(ready, limit):
            return
        sentinel = self._sentinel
        if sentinel is None:
            # The thread never ran: its start failed, or it vanished in a fork.
            return
        if deadline is not None:
            limit = deadline - monotonic()
        if pass_gate(sentinel, limit):
            self._mark_finished()

    def _set_done(self) -> None:
        if self._state is _UNSTARTED:
            raise RuntimeError("thread not started")
        self._mark_finished()
        ready = self._ready
        if ready is not None and ready.locked():
            try:
                ready.release()
            except RuntimeError:  # pragma: no cover - released by the thread meanwhile
                pass


ThreadHandle.__name__ = ThreadHandle.__qualname__ = "_ThreadHandle"


def start_on_handle(bootstrap: Callable[[], object], handle: ThreadHandle, daemon: bool) -> None:
    """Start an OS thread running ``bootstrap()`` on *handle*, a new ``_ThreadHandle``."""
    handle._claim(daemon)
    try:
        native_start(handle._run, (bootstrap,))
    except BaseException:
        handle._unclaim()
        raise


def start_bootstrap(bootstrap: Callable[[], object], handle: ThreadHandle, daemon: bool) -> None:
    """``start_on_handle`` with what the interpreter adds from 3.13 on.

    The audit event ``_thread.start_joinable_thread``, and the refusal to start during
    finalization.
    """
    sys.audit("_thread.start_joinable_thread", bootstrap, daemon, handle)
    if sys.is_finalizing():
        raise PythonFinalizationError("can't create new thread at interpreter shutdown")
    start_on_handle(bootstrap, handle, daemon)


def join_non_daemon_threads() -> None:
    """Wait for every thread started with ``daemon=False``, except the calling one."""
    me = get_ident()
    while True:
        with _started_lock:
            waiting = [h for h in _started if not h._daemon and h._ident != me]
        if not waiting:
            return
        for handle in waiting:
            handle.join()
            _forget(handle)


def handles_after_fork() -> None:
    """In a forked child: only the forking thread survives, every other handle is done."""
    global _started_lock
    _started_lock = allocate_lock()
    me = get_ident()
    for handle in list(_started):
        if handle._ident != me:
            handle._set_done()
