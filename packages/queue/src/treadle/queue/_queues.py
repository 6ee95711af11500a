"""Queue, LifoQueue and PriorityQueue: one lock, and FIFO lists of parked threads.

Every queue has one lock, ``mutex``, guarding its container. A thread that has to wait
(a getter on an empty queue, a putter on a full one, a joiner) parks in the
:class:`~treadle.thread_core.support.WaiterList` of its kind, dropping the mutex while it
sleeps. Whoever makes progress possible wakes exactly one of them (an item put wakes one
getter, an item taken wakes one putter), so the uncontended path is one lock round-trip
and the test of a counter: nothing is notified when nobody waits.

The three lists are exposed as ``not_empty``, ``not_full`` and ``all_tasks_done``,
objects with the condition-variable API over ``mutex``, because existing code uses them
(``with q.mutex: q.queue.clear()``, ``q.not_full.notify_all()``, ...). A thread waiting on
one of them through that API is woken by the queue like any parked getter or putter.

Timeouts follow treadle's one rule (:func:`~treadle.thread_core.support.check_timeout`):
``put`` and ``get`` refuse a negative one, as the stdlib does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heappop, heappush
from time import monotonic
from types import GenericAlias
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from treadle.thread_core import LockType, allocate_lock
from treadle.thread_core.support import WaiterList, check_timeout, take_lock

from ._native import Empty, Full, ShutDown

__all__ = ["Empty", "Full", "LifoQueue", "PriorityQueue", "Queue", "ShutDown"]

_T = TypeVar("_T")
_R = TypeVar("_R")
if TYPE_CHECKING:
    # Items a PriorityQueue can order: what typeshed asks of them too.
    from _typeshed import SupportsRichComparisonT as _Ordered
else:
    _Ordered = TypeVar("_Ordered")


class _WaitList:
    """A condition variable over a queue's ``mutex``, whose waiters the queue wakes.

    Offers what code expects of ``threading.Condition``: the context manager protocol,
    ``acquire``/``release``, ``wait``, ``wait_for``, ``notify`` and ``notify_all``.
    A put or a get learns whether anybody waits from the waiter list's ``gates``, and
    parks through ``park_lock``, without calls of this class on the way.
    """

    __slots__ = ("__weakref__", "_lock", "_waiters", "acquire", "release")

    def __init__(self, lock: LockType) -> None:
        self._lock = lock
        self._waiters = WaiterList()
        self.acquire = lock.acquire
        self.release = lock.release

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()

    def __repr__(self) -> str:
        return f"<Condition({self._lock}, {len(self._waiters)})>"

    def _park(self, timeout: float | None) -> bool:
        """Sleep (the mutex dropped) until woken or *timeout*, a checked one, runs out."""
        return self._waiters.park_lock(self._lock, timeout)

    def _held(self, action: str) -> None:
        if not self._lock.locked():
            raise RuntimeError(f"cannot {action} on un-acquired lock")

    def wait(self, timeout: float | None = None) -> bool:
        """Release the mutex, wait until notified or *timeout*, take the mutex back.

        Returns False if the wait timed out. RuntimeError if the mutex is not held.
        """
        self._held("wait")
        return self._park(check_timeout(timeout))

    def wait_for(self, predicate: Callable[[], _R], timeout: float | None = None) -> _R:
        """Wait until ``predicate()`` is true (or *timeout*); return its last value."""
        budget = check_timeout(timeout)
        started = monotonic()
        while not (outcome := predicate()):
            if budget is None:
                self.wait()
                continue
            left = started + budget - monotonic()
            if left <= 0.0:
                break
            self.wait(left)
        return outcome

    def notify(self, n: int = 1) -> None:
        """Wake up to *n* waiting threads (the mutex must be held)."""
        self._held("notify")
        self._waiters.wake(n)

    def notify_all(self) -> None:
        """Wake every waiting thread (the mutex must be held)."""
        self._held("notify")
        self._waiters.wake_all()


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
        self.mutex = mutex = allocate_lock()
        self.not_empty = _WaitList(mutex)
        self.not_full = _WaitList(mutex)
        self.all_tasks_done = _WaitList(mutex)
        # The gates of parked getters and putters, read on every put and get.
        self._getters = self.not_empty._waiters.gates
        self._putters = self.not_full._waiters.gates
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
            pending = self.unfinished_tasks
            if pending <= 0:
                raise ValueError("task_done() called too many times")
            self.unfinished_tasks = pending = pending - 1
            if not pending:
                self.all_tasks_done._waiters.wake_all()

    def join(self) -> None:
        """Block until every item put in the queue has been taken and marked done."""
        with self.mutex:
            while self.unfinished_tasks:
                self.all_tasks_done._park(None)

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
        ValueError for a negative *timeout*.
        """
        mutex = self.mutex
        if not mutex.acquire(False):
            take_lock(mutex)
        gate = None
        try:
            if self.is_shutdown:
                raise ShutDown
            if self.maxsize > 0:
                if block and timeout is not None:
                    timeout = check_timeout(timeout, negative=False)
                if self._qsize() >= self.maxsize:
                    if not block:
                        raise Full
                    self._wait_for_room(timeout)
            self._put(item)
            self.unfinished_tasks += 1
            getters = self._getters
            if getters:
                gate = getters.popleft()
        finally:
            mutex.release()
        # Opened once the mutex is free: the woken getter does not run into it held.
        if gate is not None:
            gate.release()

    def _wait_for_room(self, timeout: float | None) -> None:
        # The mutex is held, the queue is full and *timeout* has been checked.
        park, mutex = self.not_full._waiters.park_lock, self.mutex
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - monotonic()
            if left is not None and left <= 0.0:
                raise Full
            park(mutex, left)
            if self.is_shutdown:
                raise ShutDown
            if self._qsize() < self.maxsize:
                return

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return an item from the queue.

        With *block* true (the default) wait for an item, for at most *timeout* seconds
        if it is not None (then raise Empty); with *block* false raise Empty at once if
        none is there. Once the queue is shut down and empty, raise ShutDown.
        ValueError for a negative *timeout*.
        """
        mutex = self.mutex
        if not mutex.acquire(False):
            take_lock(mutex)
        gate = None
        try:
            if self._qsize():
                if block and timeout is not None:
                    check_timeout(timeout, negative=False)
            elif self.is_shutdown:
                raise ShutDown
            elif not block:
                raise Empty
            else:
                self._wait_for_item(
                    None if timeout is None else check_timeout(timeout, negative=False)
                )
            item: _T = self._get()
            putters = self._putters
            if putters:
                gate = putters.popleft()
        finally:
            mutex.release()
        # Opened once the mutex is free: the woken putter does not run into it held.
        if gate is not None:
            gate.release()
        return item

    def _wait_for_item(self, timeout: float | None) -> None:
        # The mutex is held, the queue is empty and *timeout* has been checked.
        park, mutex = self.not_empty._waiters.park_lock, self.mutex
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = None if deadline is None else deadline - monotonic()
            if left is not None and left <= 0.0:
                raise Empty
            park(mutex, left)
            if self._qsize():
                return
            if self.is_shutdown:
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
                self.all_tasks_done._waiters.wake_all()
            self.not_empty._waiters.wake_all()
            self.not_full._waiters.wake_all()

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


class PriorityQueue(Queue[_Ordered]):
    """A queue that hands out its lowest item first (kept as a heap).

    Items are often tuples ``(priority, data)``; they must be comparable.
    """

    queue: list[_Ordered]

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: _Ordered) -> None:
        heappush(self.queue, item)

    def _get(self) -> _Ordered:
        return heappop(self.queue)


class LifoQueue(Queue[_T]):
    """A queue that hands out the item put last first (a stack)."""

    queue: list[_T]

    def _init(self, maxsize: int) -> None:
        self.queue = []

    def _qsize(self) -> int:
        return len(self.queue)

    def _put(self, item: _T) -> None:
        self.queue.append(item)

    def _get(self) -> _T:
        return self.queue.pop()
