"""Future, wait, as_completed, Executor and the exceptions (``concurrent.futures._base``).

treadle's :class:`Future` derives from ``concurrent.futures.Future`` so that asyncio
(``wrap_future``, ``run_in_executor``) accepts it, but none of the stdlib's machinery
runs: the base ``__init__`` is never called, and waiting uses treadle's own locks.

Waiting protocol (shared with the stdlib, so that mixed code works both ways): a future
keeps ``_waiters``, objects with ``add_result``/``add_exception``/``add_cancelled``
methods that ``wait``/``as_completed`` install (the stdlib's ``wait`` can install its own
on a treadle future, and treadle's ``wait`` on a stdlib future, through ``_condition``).
Threads blocked in :meth:`Future.result` wait on ``_gate``, a lock that the first of them
creates (held) and that finishing the future releases.
"""

from __future__ import annotations

import concurrent.futures as _std
import logging
import time
import weakref
from collections import deque, namedtuple
from collections.abc import Callable, Iterable, Iterator
from itertools import islice, repeat
from types import GenericAlias
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, ParamSpec, TypeVar

from treadle import threading as _threading
from treadle.thread_core.support import check_timeout as _check_timeout
from treadle.thread_core.support import pass_gate as _pass_gate
from treadle.thread_core.support import wait_gate as _wait_gate

from . import _native

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "ALL_COMPLETED",
    "CANCELLED",
    "CANCELLED_AND_NOTIFIED",
    "FINISHED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "LOGGER",
    "PENDING",
    "RUNNING",
    "BrokenExecutor",
    "CancelledError",
    "DoneAndNotDoneFutures",
    "Error",
    "Executor",
    "Future",
    "InvalidStateError",
    "TimeoutError",
    "as_completed",
    "wait",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")

FIRST_COMPLETED = "FIRST_COMPLETED"
FIRST_EXCEPTION = "FIRST_EXCEPTION"
ALL_COMPLETED = "ALL_COMPLETED"
_AS_COMPLETED = "_AS_COMPLETED"

# The future's states: the stdlib's strings, which CPython's tests set directly.
PENDING = "PENDING"
RUNNING = "RUNNING"
CANCELLED = "CANCELLED"
CANCELLED_AND_NOTIFIED = "CANCELLED_AND_NOTIFIED"
FINISHED = "FINISHED"

_DESCRIPTION = {
    PENDING: "pending",
    RUNNING: "running",
    CANCELLED: "cancelled",
    CANCELLED_AND_NOTIFIED: "cancelled",
    FINISHED: "finished",
}
_CANCELLED_STATES = (CANCELLED, CANCELLED_AND_NOTIFIED)
_TERMINAL = (CANCELLED, CANCELLED_AND_NOTIFIED, FINISHED)

# The stdlib's logger: logging configured for concurrent.futures applies unchanged.
LOGGER = logging.getLogger("concurrent.futures")

# The exceptions are the stdlib's own classes: asyncio converts them by identity. The
# timeout is the builtin since 3.11; on 3.10 a class that is also both of the stdlib's
# timeout classes of that version (see _native).
Error = _native.Error
CancelledError = _std.CancelledError
InvalidStateError = _std.InvalidStateError
BrokenExecutor = _std.BrokenExecutor
TimeoutError = _native.TimeoutError

_Lock = _threading.Lock
_monotonic = time.monotonic


def _deadline(timeout: object) -> float | None:
    """Return when a wait of *timeout* seconds from now ends, in monotonic time (None: never)."""
    limit = _check_timeout(timeout, "timeout")
    return None if limit is None else _monotonic() + limit


class _ConditionView:
    """``future._condition`` for code written against the stdlib's Future internals.

    Acquiring it takes the future's lock. ``notify_all`` (made after setting a finished
    state by hand) wakes the threads blocked in ``result()``/``exception()``; ``wait``
    returns once the future is done, or when *timeout* runs out.
    """

    __slots__ = ("_future",)

    def __init__(self, future: Future[Any]) -> None:
        self._future = future

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return bool(self._future._lock.acquire(blocking, timeout))

    def release(self) -> None:
        self._future._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def notify_all(self) -> None:
        # Only a finished state can wake the waiters: they wait for nothing else.
        future = self._future
        if future._state in _TERMINAL:
            future._open()

    notify = notify_all

    def wait(self, timeout: float | None = None) -> bool:
        limit = _check_timeout(timeout, "timeout")
        future = self._future
        gate = future._gate_to_wait_on()
        future._lock.release()
        try:
            return gate is None or _pass_gate(gate, limit)
        finally:
            future._lock.acquire()


class Future(_std.Future[_T]):
    """The result of a call that may not have finished yet.

    Created by :meth:`Executor.submit`; code outside executors only reads it
    (``result``, ``exception``, ``done``, ``add_done_callback``). Derives from
    ``concurrent.futures.Future`` so that asyncio accepts it, with treadle's behaviour.
    """

    _state: str
    _result: Any
    _exception: BaseException | None

    def __init__(self) -> None:
        """Create a pending future (the stdlib's ``__init__`` is deliberately not run)."""
        self._lock = _Lock()
        # Made (held) by the first thread that waits for the future to finish, released
        # when it does; each waiter passes it on. A future nobody waits on never has one.
        self._gate: Any = None
        self._state = PENDING
        self._result = None
        self._exception = None
        self._waiters: list[Any] = []
        # Made by the first add_done_callback: most futures never have one.
        self._done_callbacks: list[Callable[[Future[_T]], object]] | None = None

    @property  # a view on demand, not the stdlib's Condition
    def _condition(self) -> _ConditionView:  # type: ignore[override]
        return _ConditionView(self)

    def __repr__(self) -> str:
        state = self._state
        where = f"<{type(self).__name__} at {id(self):#x} state={_DESCRIPTION.get(state, state)}"
        if state == FINISHED:
            if self._exception is not None:
                return f"{where} raised {type(self._exception).__name__}>"
            return f"{where} returned {type(self._result).__name__}>"
        return where + ">"

    # -------------------------------------------------------------- internal helpers
    # The lock is taken with acquire()/try/finally rather than ``with``: on the hot
    # paths the context-manager protocol costs about twice as much as the two calls.

    def _open(self) -> None:
        # Called with self._lock held, once the state is terminal: wake the waiters.
        gate = self._gate
        if gate is not None:
            self._gate = None
            gate.release()

    def _gate_to_wait_on(self) -> Any:
        # Called with self._lock held: None if the future is done, else the gate.
        if self._state in _TERMINAL:
            return None
        gate = self._gate
        if gate is None:
            gate = self._gate = _Lock()
            gate.acquire()
        return gate

    def _invoke_callbacks(self) -> None:
        callbacks = self._done_callbacks
        if not callbacks:
            return
        self._done_callbacks = None
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                LOGGER.exception("exception calling callback for %r", self)

    # ------------------------------------------------------------------ public API

    def cancel(self) -> bool:
        """Cancel the call if it has not started; return whether it is cancelled."""
        lock = self._lock
        lock.acquire()
        try:
            state = self._state
            if state in (RUNNING, FINISHED):
                return False
            if state in _CANCELLED_STATES:
                return True
            self._state = CANCELLED
            self._open()
        finally:
            lock.release()
        self._invoke_callbacks()
        return True

    def cancelled(self) -> bool:
        """Return True if the call was cancelled."""
        return self._state in _CANCELLED_STATES

    def running(self) -> bool:
        """Return True if the call is running now."""
        return self._state == RUNNING

    def done(self) -> bool:
        """Return True if the call finished or was cancelled."""
        return self._state in _TERMINAL

    def result(self, timeout: float | None = None) -> _T:
        """Return the call's result, waiting up to *timeout* seconds (None: forever).

        Raises CancelledError if the future was cancelled, TimeoutError if it did not
        finish in time, and the call's own exception if it raised one.
        """
        try:
            if self._state != FINISHED or timeout is not None:
                self._wait_finished(timeout)
            if self._exception is not None:
                raise self._exception
            result: _T = self._result
            return result
        finally:
            # Break the cycle frame -> self -> exception -> traceback -> frame.
            self = None  # type: ignore[assignment]  # noqa: PLW0642

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """Return the call's exception (None if it returned), waiting like :meth:`result`."""
        if self._state != FINISHED or timeout is not None:
            self._wait_finished(timeout)
        return self._exception

    def _wait_finished(self, timeout: object) -> None:
        # Wait for the call to finish; CancelledError or TimeoutError if it does not.
        # A timeout is checked whenever given, even if the future is already done.
        limit = None if timeout is None else _check_timeout(timeout, "timeout")
        if self._state not in _TERMINAL:
            # The lock is held only to find the gate: the wait itself is outside it.
            lock = self._lock
            lock.acquire()
            try:
                gate = self._gate_to_wait_on()
            finally:
                lock.release()
            if gate is not None:
                _pass_gate(gate, limit)
        state = self._state
        if state == FINISHED:
            return
        if state in _CANCELLED_STATES:
            raise CancelledError()
        raise TimeoutError()

    def add_done_callback(self, fn: Callable[[Future[_T]], object]) -> None:
        """Call ``fn(future)`` once the future is done (at once if it already is).

        Exceptions raised by *fn* are logged and ignored.
        """
        lock = self._lock
        lock.acquire()
        try:
            if self._state not in _TERMINAL:
                if self._done_callbacks is None:
                    self._done_callbacks = [fn]
                else:
                    self._done_callbacks.append(fn)
                return
        finally:
            lock.release()
        try:
            fn(self)
        except Exception:
            LOGGER.exception("exception calling callback for %r", self)

    # ------------------------------------------------------- executor-side methods

    def set_running_or_notify_cancel(self) -> bool:
        """Mark the future running (True), or, if it was cancelled, notify waiters (False).

        For executors; RuntimeError if the future already ran or finished.
        """
        lock = self._lock
        lock.acquire()
        try:
            state = self._state
            if state == PENDING:
                self._state = RUNNING
                return True
            if state == CANCELLED:
                self._state = CANCELLED_AND_NOTIFIED
                for waiter in self._waiters:
                    waiter.add_cancelled(self)
                return False
        finally:
            lock.release()
        LOGGER.critical("Future %s in unexpected state: %s", id(self), state)
        raise RuntimeError("Future in unexpected state")

    def set_result(self, result: _T) -> None:
        """Set the call's result and wake waiters (InvalidStateError if already done)."""
        lock = self._lock
        lock.acquire()
        try:
            if self._state in _TERMINAL:
                raise InvalidStateError(f"{self._state}: {self!r}")
            self._result = result
            self._state = FINISHED
            for waiter in self._waiters:
                waiter.add_result(self)
            gate = self._gate
            if gate is not None:
                self._gate = None
                gate.release()
        finally:
            lock.release()
        if self._done_callbacks:
            self._invoke_callbacks()

    def set_exception(self, exception: BaseException | None) -> None:
        """Set the call's exception and wake waiters (InvalidStateError if already done)."""
        lock = self._lock
        lock.acquire()
        try:
            if self._state in _TERMINAL:
                raise InvalidStateError(f"{self._state}: {self!r}")
            self._exception = exception
            self._state = FINISHED
            for waiter in self._waiters:
                waiter.add_exception(self)
            self._open()
        finally:
            lock.release()
        self._invoke_callbacks()


# ------------------------------------------------------------------- wait helpers


def _lock_of(future: Any) -> Any:
    """Return the lock guarding a future's state: ours, or a stdlib future's condition."""
    if isinstance(future, Future):
        return future._lock
    return future._condition


class _Waiter:
    """Installed in ``_waiters`` of every pending future by ``wait``/``as_completed``."""

    __slots__ = ("_armed", "_fired", "_lock", "_mode", "_needed", "event", "finished_futures")

    def __init__(self, mode: str) -> None:
        self._mode = mode
        self._lock = _Lock()
        self.event = _Lock()
        self.event.acquire()
        self._fired = False
        self._armed = False
        self._needed = 0
        self.finished_futures: list[Any] = []

    def _fire(self) -> None:
        if not self._fired:
            self._fired = True
            self.event.release()

    def _check(self, failed: bool) -> None:
        mode = self._mode
        early = mode in {_AS_COMPLETED, FIRST_COMPLETED} or (mode == FIRST_EXCEPTION and failed)
        if early or (self._armed and len(self.finished_futures) >= self._needed):
            self._fire()

    def _add(self, future: Any, failed: bool) -> None:
        with self._lock:
            self.finished_futures.append(future)
            self._check(failed)

    def add_result(self, future: Any) -> None:
        self._add(future, False)

    def add_exception(self, future: Any) -> None:
        self._add(future, True)

    def add_cancelled(self, future: Any) -> None:
        self._add(future, False)

    def arm(self, needed: int) -> None:
        with self._lock:
            self._armed = True
            self._needed = needed
            if needed and len(self.finished_futures) >= needed:
                self._fire()

    def wait(self, timeout: float | None) -> None:
        # *timeout* has been through _check_timeout.
        _wait_gate(self.event, timeout)
        with self._lock:
            if not self._fired:
                return
            self._fired = False  # consumed: the next add fires again

    def take(self) -> list[Any]:
        with self._lock:
            finished = self.finished_futures
            self.finished_futures = []
            return finished


def _finished(future: Any) -> bool:
    return future._state in (CANCELLED_AND_NOTIFIED, FINISHED)


def _install(fs: Iterable[Any], waiter: _Waiter) -> tuple[set[Any], list[Any]]:
    """Record the futures already done; install *waiter* on the others."""
    done: set[Any] = set()
    installed: list[Any] = []
    for future in fs:
        with _lock_of(future):
            if _finished(future):
                done.add(future)
            else:
                future._waiters.append(waiter)
                installed.append(future)
    return done, installed


def _uninstall(fs: Iterable[Any], waiter: _Waiter) -> None:
    for future in fs:
        with _lock_of(future):
            try:
                future._waiters.remove(waiter)
            except ValueError:
                pass


if TYPE_CHECKING:

    class DoneAndNotDoneFutures(NamedTuple, Generic[_T]):
        """What :func:`wait` returns: the sets ``done`` and ``not_done``."""

        done: set[_std.Future[_T]]
        not_done: set[_std.Future[_T]]

else:  # a generic NamedTuple needs 3.11: subscripting is given by hand

    class DoneAndNotDoneFutures(namedtuple("DoneAndNotDoneFutures", "done not_done")):
        """What :func:`wait` returns: the sets ``done`` and ``not_done``."""

        __slots__ = ()
        __class_getitem__ = classmethod(GenericAlias)


def _satisfied(return_when: str, done: set[Any]) -> bool:
    """Whether the futures already *done* end a wait for *return_when* early."""
    if return_when == FIRST_COMPLETED:
        return bool(done)
    if return_when == FIRST_EXCEPTION:
        return any(f._state == FINISHED and f._exception is not None for f in done)
    return False


def wait(
    fs: Iterable[_std.Future[_T]], timeout: float | None = None, return_when: str = ALL_COMPLETED
) -> DoneAndNotDoneFutures[_T]:
    """Wait for the futures in *fs* (duplicates allowed) to complete.

    *fs* may hold treadle's futures and the stdlib's. *return_when* is FIRST_COMPLETED,
    FIRST_EXCEPTION or ALL_COMPLETED (the default); *timeout* bounds the wait in seconds
    (None: no bound). Returns the named 2-tuple ``(done, not_done)``.
    """
    if return_when not in (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED):
        raise ValueError(f"Invalid return condition: {return_when!r} (return_when)")
    limit = _check_timeout(timeout, "timeout")
    futures = set(fs)
    done = {f for f in futures if _finished(f)}
    not_done = futures - done
    if not not_done:
        return DoneAndNotDoneFutures(done, not_done)
    if _satisfied(return_when, done):
        return DoneAndNotDoneFutures(done, not_done)
    waiter = _Waiter(return_when)
    newly_done, installed = _install(not_done, waiter)
    done |= newly_done
    try:
        if not installed:
            return DoneAndNotDoneFutures(done, futures - done)
        if not _satisfied(return_when, newly_done):
            waiter.arm(len(installed))
            waiter.wait(limit)
    finally:
        _uninstall(installed, waiter)
    done.update(waiter.take())
    return DoneAndNotDoneFutures(done, futures - done)


def as_completed(
    fs: Iterable[_std.Future[_T]], timeout: float | None = None
) -> Iterator[_std.Future[_T]]:
    """Yield the futures of *fs* as they complete (each once, duplicates dropped).

    *fs* may hold treadle's futures and the stdlib's. Raises TimeoutError, naming how
    many are unfinished, if ``__next__`` is called and the result is not there *timeout*
    seconds after the original call.
    """
    end_time = _deadline(timeout)
    futures = set(fs)
    total = len(futures)
    waiter = _Waiter(_AS_COMPLETED)
    finished_set, installed = _install(futures, waiter)
    return _as_completed(futures, total, end_time, waiter, list(finished_set), installed)


def _as_completed(  # noqa: PLR0917
    futures: set[Any],
    total: int,
    end_time: float | None,
    waiter: _Waiter,
    finished: list[Any],
    installed: list[Any],
) -> Iterator[Any]:
    pending = set(installed)
    del installed  # only ``pending`` may refer to the futures not yielded yet
    try:
        while finished:
            futures.discard(finished[-1])
            yield finished.pop()  # no local name: the caller may drop the future at once
        while pending:
            if end_time is None:
                waiter.wait(None)
            else:
                left = end_time - _monotonic()
                if left < 0:
                    raise TimeoutError(f"{len(pending)} (of {total}) futures unfinished")
                waiter.wait(left)
            finished = waiter.take()
            finished.reverse()
            while finished:
                futures.discard(finished[-1])
                pending.discard(finished[-1])
                _uninstall(finished[-1:], waiter)
                yield finished.pop()
    finally:
        _uninstall(pending, waiter)


# ------------------------------------------------------------------------ Executor


def _check_buffersize(buffersize: object) -> int | None:
    # The stdlib's messages, which CPython's tests match.
    if buffersize is None:
        return None
    if not isinstance(buffersize, int) or isinstance(buffersize, bool):
        raise TypeError("buffersize must be an integer or None")
    if buffersize < 1:
        raise ValueError("buffersize must be None or > 0")
    return buffersize


class _Feed:
    """The input of a ``map(buffersize=...)`` not submitted yet: one call per result taken.

    Holds the executor weakly: the iterator ``map`` returns must not keep it alive.
    """

    __slots__ = ("_calls", "_executor", "_fn")

    def __init__(
        self, executor: Executor, fn: Callable[..., Any], calls: Iterator[tuple[Any, ...]]
    ) -> None:
        self._executor = weakref.ref(executor)
        self._fn = fn
        self._calls = calls

    def next_call(self) -> Future[Any] | None:
        """Submit the next call; None once the input or the executor is gone."""
        executor = self._executor()
        if executor is None:
            return None
        args = next(self._calls, None)
        return None if args is None else executor.submit(self._fn, *args)


def _take(window: deque[Future[Any]], deadline: float | None, feed: _Feed | None) -> Any:
    """Wait for the oldest call of *window* and return its result.

    A call whose result is not had (timed out, failed, or the wait interrupted) is
    cancelled, which does nothing if it already ran. Once the result is in hand the
    buffer has room again, so *feed* submits the next call before it is returned.
    """
    oldest = window.popleft()
    try:
        value = oldest.result(None if deadline is None else deadline - _monotonic())
    except BaseException:
        oldest.cancel()
        del oldest  # the traceback keeps this frame: let it not keep the future
        raise
    if feed is not None:
        following = feed.next_call()
        if following is not None:
            window.append(following)
    return value


def _in_order(
    window: deque[Future[Any]], deadline: float | None, feed: _Feed | None
) -> Iterator[Any]:
    """Yield the results of *window* in input order; cancel the rest if stopped early.

    This is the iterator ``map`` returns.
    """
    try:
        while window:
            yield _take(window, deadline, feed)  # no local name: the caller may drop it
    finally:
        for future in window:
            future.cancel()


def _check_chunksize(chunksize: object) -> int:
    """Return *chunksize* if it is an integer >= 1 (the stdlib's ValueError text)."""
    if not isinstance(chunksize, int) or isinstance(chunksize, bool):
        raise TypeError(f"chunksize must be an integer, not {type(chunksize).__name__}")
    if chunksize < 1:
        raise ValueError("chunksize must be >= 1.")
    return chunksize


def _flatten(chunks: Iterator[list[_T]]) -> Iterator[_T]:
    """Yield the items of each chunk's results; stopping early stops *chunks* too."""
    try:
        for chunk in chunks:
            yield from chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


class Executor(_std.Executor):
    """Base class of the executors: ``submit``, ``map``, ``shutdown``, context manager.

    Subclasses implement :meth:`submit` (and :meth:`shutdown`); ``map`` submits through
    it. Derives from ``concurrent.futures.Executor`` so that code checking for it works.
    """

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """Schedule ``fn(*args, **kwargs)`` and return a Future for its result."""
        raise NotImplementedError()

    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
        buffersize: int | None = None,
    ) -> Iterator[_T]:
        """Like ``map(fn, *iterables)``, with the calls run by the executor.

        Every call is submitted now, unless *buffersize* is given: then at most that
        many submitted calls have results not yet yielded, and the input is read on as
        results are taken. The returned iterator yields the results in input order,
        raises the call's exception where a call raised, and TimeoutError if a result is
        not there *timeout* seconds after this call; once it stops (an error, or dropped
        early) the calls not started are cancelled. *chunksize* matters to process pools
        only.
        """
        size = _check_buffersize(buffersize)
        deadline = _deadline(timeout)
        calls = zip(*iterables)  # noqa: B905 - map() stops at the shortest, as the stdlib's
        submit = self.submit
        if size is None:
            return _in_order(deque([submit(fn, *args) for args in calls]), deadline, None)
        window = deque([submit(fn, *args) for args in islice(calls, size)])
        return _in_order(window, deadline, _Feed(self, fn, calls))

    def _map_in_chunks(
        self,
        run_chunk: Callable[[Callable[..., _T], list[tuple[Any, ...]]], list[_T]],
        fn: Callable[..., _T],
        iterables: tuple[Iterable[Any], ...],
        chunksize: int,
        *,
        timeout: float | None,
        buffersize: int | None,
    ) -> Iterator[_T]:
        """``map`` for executors that send *chunksize* calls as one task.

        ``run_chunk(fn, calls)`` runs one task's calls where the executor runs it and
        returns their results; they are yielded one by one, in input order
        (*buffersize* counts tasks).
        """
        calls = zip(*iterables)  # noqa: B905 - map() stops at the shortest, as the stdlib's
        chunks = iter(lambda: list(islice(calls, chunksize)), [])
        results = Executor.map(
            self, run_chunk, repeat(fn), chunks, timeout=timeout, buffersize=buffersize
        )
        return _flatten(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Free the executor's resources once pending futures are done.

        *wait*: return only when they are; *cancel_futures*: cancel those not started.
        Calling ``submit``/``map`` afterwards raises RuntimeError.
        """

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)
