"""Queue, LifoQueue and PriorityQueue: one lock, and FIFO lists of parked threads.

Every queue has one lock, ``mutex``, guarding its container. A thread that has to wait
(a getter on an empty queue, a putter on a full one, a joiner) parks on a fresh lock of
its own (a "gate", taken once before it is queued) in the FIFO list of its kind, and
drops the mutex while it waits. Whoever makes progress possible releases exactly one gate
(an item put wakes one getter, an item taken wakes one putter), so the uncontended path
is one lock round-trip and a test of an empty list: no condition variable is notified
when nobody waits.

The three lists are exposed as ``not_empty``, ``not_full`` and ``all_tasks_done``,
objects with the condition-variable API over ``mutex``, because existing code uses them
(``with q.mutex: q.queue.clear()``, ``q.not_full.notify_all()``, ...). A thread waiting on
one of them through that API is woken by the queue like any parked getter or putter.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from time import monotonic, sleep
from types import GenericAlias
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from treadle.threading import TIMEOUT_MAX, Lock

from ._compat import Empty, Full, ShutDown

__all__ = ["Empty", "Full", "LifoQueue", "PriorityQueue", "Queue", "ShutDown"]

_T = TypeVar("_T")
_R = TypeVar("_R")


def check_timeout(timeout: object) -> None:
    """Raise what 3.14 raises for a bad *timeout* of a blocking call (not None)."""
    try:
        negative = timeout < 0  # type: ignore[operator]
    except TypeError:
        raise TypeError(
            f"'timeout' must be a number or None, not {type(timeout).__name__}"
        ) from None
    if negative:
        raise ValueError("'timeout' must be a non-negative number")


# How many times a thread that finds the mutex taken gives up the GIL before it blocks.
_YIELDS = 20


def _take(mutex: Any) -> None:
    """Take *mutex*, which a try without blocking found held by another thread.

    Under a GIL the holder is a thread that lost the GIL inside its critical section (or
    one that took the lock from the kernel while it waited for the GIL). Blocking on the
    lock here hands the GIL to that thread, and the two then tend to take turns for every
    item, each turn two context switches: a lock convoy, which made producer/consumer
    runs on 3.10 three to eight times slower than they need be. Giving up the GIL with
    ``sleep(0)`` lets the holder finish its (short) critical section while this thread
    keeps its place to run; after ``_YIELDS`` tries (a holder blocked in I/O, say) it
    blocks as usual.
    """
    for _ in range(_YIELDS):
        sleep(0)
        if mutex.acquire(False):
            return
    mutex.acquire()


def _check_wait(timeout: float) -> None:
    if math.isnan(timeout):
        raise ValueError("'timeout' must not be NaN")


class _WaitList:
    """A condition variable over a queue's ``mutex``, whose waiters the queue wakes.

    Offers what code expects of ``threading.Condition``: the context manager protocol,
    ``acquire``/``release``, ``wait``, ``wait_for``, ``notify`` and ``notify_all``.
    """

    __slots__ = ("__weakref__", "_lock", "_waiters", "acquire", "release")

    def __init__(self, lock: Any) -> None:
        self._lock = lock
        self._waiters: deque[Any] = deque()
        self.acquire = lock.acquire
        self.release = lock.release

    def __enter__(self) -> bool:
        return bool(self._lock.acquire())

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __repr__(self) -> str:
        return f"<Condition({self._lock}, {len(self._waiters)})>"

    def _park(self, timeout: float | None) -> bool:
        # The mutex is held. Queue a held gate, drop the mutex, wait for the gate to be
        # opened (or the time to run out), take the mutex back.
        gate = Lock()
        gate.acquire()
        waiters = self._waiters
        waiters.append(gate)
        lock = self._lock
        lock.release()
        try:
            if timeout is None:
                opened = gate.acquire()
            elif timeout > 0:
                opened = gate.acquire(True, min(timeout, TIMEOUT_MAX))
            else:
                opened = gate.acquire(False)
        except BaseException:
            lock.acquire()
            try:
                waiters.remove(gate)
            except ValueError:
                # The wake-up was meant for us: hand it on so that it is not lost.
                self._wake(1)
            raise
        if not lock.acquire(False):
            _take(lock)
        if not opened:
            try:
                waiters.remove(gate)
            except ValueError:
                opened = True  # opened just as the wait ran out
        return opened

    def _wake(self, n: int) -> None:
        waiters = self._waiters
        while waiters and n > 0:
            waiters.popleft().release()
            n -= 1

    def wait(self, timeout: float | None = None) -> bool:
        """Release the mutex, wait until notified or *timeout*, take the mutex back.

        Returns False if the wait timed out. RuntimeError if the mutex is not held.
        """
        if not self._lock.locked():
            raise RuntimeError("cannot wait on un-acquired lock")
        if timeout is not None:
            _check_wait(float(timeout))
        return self._park(timeout)

    def wait_for(self, predicate: Callable[[], _R], timeout: float | None = None) -> _R:
        """Wait until ``predicate()`` is true (or *timeout*); return its last value."""
        result = predicate()
        if result:
            return result
        deadline = None if timeout is None else monotonic() + timeout
        while not result:
            if deadline is None:
                self.wait()
            else:
                left = deadline - monotonic()
                if left <= 0:
                    break
                self.wait(left)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to *n* waiting threads (the mutex must be held)."""
        if not self._lock.locked():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._wake(n)

    def notify_all(self) -> None:
        """Wake every waiting thread (the mutex must be held)."""
        self.notify(len(self._waiters))


class Queue(Generic[_T]):
    """A first-in, first-out queue for passing items between threads.

    *maxsize* bounds the number of items: ``put()`` blocks while the queue holds that
    many. Zero or less means no bound. Subclasses may change the order by overriding the
    hooks ``_init``, ``_qsize``, ``_put`` and ``_get``, which run with ``mutex`` held.
    """

    queue: Any

    def __init__(self, maxsize: int = 0) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, (int, float)):
            try:
                maxsize = maxsize.__index__()
            except AttributeError:
                raise TypeError(
                    f"'maxsize' must be an integer, not {type(maxsize).__name__}"
                ) from None
        self.maxsize = maxsize
        self._init(maxsize)
        self.mutex = mutex = Lock()
        self.not_empty = _WaitList(mutex)
        self.not_full = _WaitList(mutex)
        self.all_tasks_done = _WaitList(mutex)
        self._getters = self.not_empty._waiters
        self._putters = self.not_full._waiters
        self.unfinished_tasks = 0
        self.is_shutdown = False

    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(GenericAlias)

    def task_done(self) -> None:
        """Tell the queue that a task taken from it is finished.

        Each ``get()`` used to fetch a task is followed by one call to ``task_done()``;
        when every item put has been marked done, ``join()`` returns. ValueError when
        called more times than there were items put.
        """
        with self.mutex:
            unfinished = self.unfinished_tasks - 1
            if unfinished <= 0:
                if unfinished < 0:
                    raise ValueError("task_done() called too many times")
                self.all_tasks_done._wake(len(self.all_tasks_done._waiters))
            self.unfinished_tasks = unfinished

    def join(self) -> None:
        """Block until every item put in the queue has been taken and marked done."""
        with self.mutex:
            done = self.all_tasks_done
            while self.unfinished_tasks:
                done._park(None)

    def qsize(self) -> int:
        """Return the approximate number of items in the queue (not reliable)."""
        with self.mutex:
            return self._qsize()

    def empty(self) -> bool:
        """Return True if the queue is empty (not reliable: it may change at once)."""
        with self.mutex:
            return not self._qsize()

    def full(self) -> bool:
        """Return True if the queue is full (not reliable: it may change at once)."""
        with self.mutex:
            bound = self.maxsize
            return bound > 0 and self._qsize() >= bound

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        """Put *item* into the queue.

        With *block* true (the default) wait for a free slot, for at most *timeout*
        seconds if it is not None (then raise Full); with *block* false raise Full at
        once if there is no free slot. ShutDown if the queue has been shut down.
        """
        mutex = self.mutex
        if not mutex.acquire(False):
            _take(mutex)
        try:
            if self.is_shutdown:
                raise ShutDown
            maxsize = self.maxsize
            if maxsize > 0:
                if block and timeout is not None:
                    check_timeout(timeout)
                if self._qsize() >= maxsize:
                    if not block:
                        raise Full
                    self._wait_for_room(timeout)
            self._put(item)
            self.unfinished_tasks += 1
            if not self._getters:
                return
            gate = self._getters.popleft()
        finally:
            mutex.release()
        # Opened once the mutex is free: the woken getter does not run into it held.
        gate.release()

    def _wait_for_room(self, timeout: float | None) -> None:
        room = self.not_full
        if timeout is None:
            while self._qsize() >= self.maxsize:
                room._park(None)
                if self.is_shutdown:
                    raise ShutDown
            return
        _check_wait(float(timeout))
        deadline = monotonic() + timeout
        while self._qsize() >= self.maxsize:
            left = deadline - monotonic()
            if left <= 0.0:
                raise Full
            room._park(left)
            if self.is_shutdown:
                raise ShutDown

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return an item from the queue.

        With *block* true (the default) wait for an item, for at most *timeout* seconds
        if it is not None (then raise Empty); with *block* false raise Empty at once if
        none is there. Once the queue is shut down and empty, raise ShutDown.
        """
        mutex = self.mutex
        if not mutex.acquire(False):
            _take(mutex)
        try:
            if self._qsize():
                if block and timeout is not None:
                    check_timeout(timeout)
            else:
                if self.is_shutdown:
                    raise ShutDown
                if not block:
                    raise Empty
                if timeout is not None:
                    check_timeout(timeout)
                self._wait_for_item(timeout)
            item: _T = self._get()
            if not self._putters:
                return item
            gate = self._putters.popleft()
        finally:
            mutex.release()
        gate.release()
        return item

    def _wait_for_item(self, timeout: float | None) -> None:
        items = self.not_empty
        if timeout is None:
            while not self._qsize():
                items._park(None)
                if self.is_shutdown and not self._qsize():
                    raise ShutDown
            return
        _check_wait(float(timeout))
        deadline = monotonic() + timeout
        while not self._qsize():
            left = deadline - monotonic()
            if left <= 0.0:
                raise Empty
            items._park(left)
            if self.is_shutdown and not self._qsize():
                raise ShutDown

    def put_nowait(self, item: _T) -> None:
        """Put *item* without blocking: the same as ``put(item, False)``."""
        self.put(item, False)

    def get_nowait(self) -> _T:
        """Take an item without blocking: the same as ``get(False)``."""
        return self.get(False)

    def shutdown(self, immediate: bool = False) -> None:
        """Shut the queue down: ``put()`` raises ShutDown from now on.

        ``get()`` keeps returning the items left, then raises ShutDown. With
        *immediate* true the items left are dropped at once (each counted as done, so
        ``join()`` returns). Every thread blocked in ``put()`` or ``get()`` wakes up.
        """
        with self.mutex:
            self.is_shutdown = True
            if immediate:
                dropped = 0
                while self._qsize():
                    self._get()
                    dropped += 1
                # Each dropped item counts as done, so that join() returns.
                self.unfinished_tasks = max(0, self.unfinished_tasks - dropped)
                self.all_tasks_done._wake(len(self.all_tasks_done._waiters))
            self.not_empty._wake(len(self._getters))
            self.not_full._wake(len(self._putters))

    # The hooks: override them to change the container and the order. They run with
    # the mutex held.

    def _init(self, maxsize: int) -> None:
        self.queue = deque()

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: _T) -> None:
        self.queue.append(item)

    def _get(self) -> _T:
        item: _T = self.queue.popleft()
        return item


class PriorityQueue(Queue[_T]):
    """A queue that hands out its lowest item first (kept as a heap).

    Items are often tuples ``(priority, data)``; they must be comparable.
    """

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: _T) -> None:
        heappush(self.queue, item)

    def _get(self) -> _T:
        item: _T = heappop(self.queue)
        return item


class LifoQueue(Queue[_T]):
    """A queue that hands out the item put last first (a stack)."""

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: _T) -> None:
        self.queue.append(item)

    def _get(self) -> _T:
        item: _T = self.queue.pop()
        return item
