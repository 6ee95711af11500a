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
import sys
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, ParamSpec, TypeVar

from treadle import threading as _threading

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

# The exceptions are the stdlib's own classes: asyncio converts them by identity.
Error = _std._base.Error
CancelledError = _std.CancelledError
InvalidStateError = _std.InvalidStateError
BrokenExecutor = _std.BrokenExecutor
TimeoutError = TimeoutError  # noqa: PLW0127 - the builtin, as in 3.11+ (3.10 had a subclass)

_Lock = _threading.Lock
_monotonic = time.monotonic


def _check_timeout(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout)
    raise TypeError(f"timeout must be a number or None, not {type(timeout).__name__}")


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
        future = self._future
        gate = future._gate_to_wait_on()
        future._lock.release()
        try:
            return gate is None or _pass_gate(gate, timeout)
        finally:
            future._lock.acquire()


def _pass_gate(gate: Any, timeout: float | None) -> bool:
    """Wait until *gate* is released, then release it again for the next waiter."""
    if timeout is None:
        got = gate.acquire()
    elif timeout > 0:
        got = gate.acquire(True, timeout)
    else:
        got = gate.acquire(False)
    if got:
        gate.release()
    return bool(got)


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
            if self._state != FINISHED:
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
        if self._state != FINISHED:
            self._wait_finished(timeout)
        return self._exception

    def _wait_finished(self, timeout: float | None) -> None:
        # Wait for the call to finish; CancelledError or TimeoutError if it does not.
        if self._state not in _TERMINAL:
            timeout = _check_timeout(timeout)
            # The lock is held only to find the gate: the wait itself is outside it.
            lock = self._lock
            lock.acquire()
            try:
                gate = self._gate_to_wait_on()
            finally:
                lock.release()
            if gate is not None:
                if timeout is None:
                    gate.acquire()
                    gate.release()
                else:
                    _pass_gate(gate, timeout)
        state = self._state
        if state in _CANCELLED_STATES:
            raise CancelledError()
        if state != FINISHED:
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
        if timeout is None:
            self.event.acquire()
        elif timeout > 0:
            self.event.acquire(True, timeout)
        else:
            self.event.acquire(False)
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


if TYPE_CHECKING or sys.version_info >= (3, 11):

    class DoneAndNotDoneFutures(NamedTuple, Generic[_T]):
        """What :func:`wait` returns: the sets ``done`` and ``not_done``."""

        done: set[Future[_T]]
        not_done: set[Future[_T]]

else:  # 3.10 cannot make a generic NamedTuple

    class DoneAndNotDoneFutures(NamedTuple):
        """What :func:`wait` returns: the sets ``done`` and ``not_done``."""

        done: set[Future[Any]]
        not_done: set[Future[Any]]


def _satisfied(return_when: str, done: set[Any]) -> bool:
    """Whether the futures already *done* end a wait for *return_when* early."""
    if return_when == FIRST_COMPLETED:
        return bool(done)
    if return_when == FIRST_EXCEPTION:
        return any(f._state == FINISHED and f._exception is not None for f in done)
    return False


def wait(
    fs: Iterable[Future[_T]], timeout: float | None = None, return_when: str = ALL_COMPLETED
) -> DoneAndNotDoneFutures[_T]:
    """Wait for the futures in *fs* (duplicates allowed) to complete.

    *return_when* is FIRST_COMPLETED, FIRST_EXCEPTION or ALL_COMPLETED (the default);
    *timeout* bounds the wait in seconds. Returns the named 2-tuple ``(done, not_done)``.
    """
    if return_when not in (FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED):
        raise ValueError(f"Invalid return condition: {return_when!r} (return_when)")
    timeout = _check_timeout(timeout)
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
            waiter.wait(timeout)
    finally:
        _uninstall(installed, waiter)
    done.update(waiter.take())
    return DoneAndNotDoneFutures(done, futures - done)


def as_completed(fs: Iterable[Future[_T]], timeout: float | None = None) -> Iterator[Future[_T]]:
    """Yield the futures of *fs* as they complete (each once, duplicates dropped).

    Raises TimeoutError, naming how many are unfinished, if ``__next__`` is called and
    the result is not there *timeout* seconds after the original call.
    """
    timeout = _check_timeout(timeout)
    end_time = None if timeout is None else timeout + _monotonic()
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


def _result_or_cancel(future: Future[_T], timeout: float | None = None) -> _T:
    try:
        try:
            return future.result(timeout)
        finally:
            future.cancel()
    finally:
        del future


def _check_buffersize(buffersize: object) -> int | None:
    if buffersize is None:
        return None
    if not isinstance(buffersize, int) or isinstance(buffersize, bool):
        raise TypeError("buffersize must be an integer or None")
    if buffersize < 1:
        raise ValueError("buffersize must be None or > 0")
    return buffersize


def _map_results(
    fs: deque[Future[Any]],
    end_time: float | None,
    refill: Callable[[], Future[Any] | None] | None,
) -> Iterator[Any]:
    """Yield the results of *fs* in order; cancel what is left when stopped early."""
    try:
        while fs:
            if refill is not None:
                extra = refill()
                if extra is not None:
                    fs.append(extra)
            if end_time is None:
                yield _result_or_cancel(fs.popleft())
            else:
                yield _result_or_cancel(fs.popleft(), end_time - _monotonic())
    finally:
        for future in fs:
            future.cancel()


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

        The calls are submitted at once (with *buffersize*, only that many ahead of the
        results consumed). The returned iterator raises TimeoutError if a result is not
        there *timeout* seconds after this call, and the call's exception if it raised.
        *chunksize* matters to process pools only.
        """
        size = _check_buffersize(buffersize)
        timeout = _check_timeout(timeout)
        end_time = None if timeout is None else timeout + _monotonic()
        zipped = zip(*iterables)  # noqa: B905 - map() stops at the shortest, as the stdlib's
        submit = self.submit
        refill: Callable[[], Future[Any] | None] | None = None
        if size is None:
            fs: deque[Future[Any]] = deque([submit(fn, *args) for args in zipped])
        else:
            fs = deque()
            for args in zipped:
                fs.append(submit(fn, *args))
                if len(fs) >= size:
                    break
            executor_ref = weakref.ref(self)
            del submit

            def refill() -> Future[Any] | None:
                executor = executor_ref()
                if executor is None:
                    return None
                args = next(zipped, None)
                if args is None:
                    return None
                return executor.submit(fn, *args)

        return _map_results(fs, end_time, refill)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Free the executor's resources once pending futures are done.

        *wait*: return only when they are; *cancel_futures*: cancel those not started.
        Calling ``submit``/``map`` afterwards raises RuntimeError.
        """

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=True)
