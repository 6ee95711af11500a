"""SimpleQueue: an unbounded FIFO queue whose ``put`` takes no lock.

The items live in a ``collections.deque``, whose ``append`` and ``popleft`` are atomic.
A getter that finds no item parks on a gate (a fresh lock of its own, taken once) in a
second deque, then looks for an item once more; a putter appends its item, then opens
the first parked gate if there is one. Neither side ever holds a lock the other needs,
so ``put`` may run in a ``__del__`` method or a signal handler that interrupted a
``put`` or ``get`` of the same thread.

No wake-up is lost: a getter looks again after it has parked its gate, a putter looks
for gates after it has appended its item, and a getter that leaves the slow path while
items remain opens the next gate (so a wake-up it did not need is handed on).
"""

from __future__ import annotations

import math
from collections import deque
from time import monotonic
from types import GenericAlias
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from treadle.threading import TIMEOUT_MAX, Lock

from ._queues import Empty, check_timeout

__all__ = ["SimpleQueue"]

_T = TypeVar("_T")


class SimpleQueue(Generic[_T]):
    """A simple, unbounded first-in, first-out queue.

    It has no ``task_done``/``join`` and no size bound; ``put`` never blocks and is
    reentrant.
    """

    __slots__ = ("__weakref__", "_append", "_gates", "_items", "_popleft")

    def __init__(self) -> None:
        self._items: deque[_T] = deque()
        self._gates: deque[Any] = deque()
        # Bound once: the hot paths are one C call each.
        self._append = self._items.append
        self._popleft = self._items.popleft

    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(GenericAlias)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        """Put *item* into the queue. Never blocks: *block* and *timeout* are ignored."""
        self._append(item)
        if self._gates:
            self._open_one()

    def put_nowait(self, item: _T) -> None:
        """Put *item* into the queue: the same as ``put(item)``."""
        self._append(item)
        if self._gates:
            self._open_one()

    def _open_one(self) -> None:
        try:
            gate = self._gates.popleft()
        except IndexError:  # another putter took the last one
            return
        gate.release()

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return an item from the queue.

        With *block* true (the default) wait for an item, for at most *timeout* seconds
        if it is not None (then raise Empty); with *block* false raise Empty at once if
        none is there (*timeout* is then ignored).
        """
        if block and timeout is not None:
            check_timeout(timeout)
        try:
            return self._popleft()
        except IndexError:
            if not block:
                raise Empty from None
        return self._wait(timeout)

    def get_nowait(self) -> _T:
        """Take an item without blocking: the same as ``get(False)``."""
        try:
            return self._popleft()
        except IndexError:
            raise Empty from None

    def _wait(self, timeout: float | None) -> _T:
        items = self._items
        gates = self._gates
        deadline = None
        if timeout is not None:
            timeout = float(timeout)
            if math.isnan(timeout):
                raise ValueError("'timeout' must not be NaN")
            deadline = monotonic() + timeout
        while True:
            gate = Lock()
            gate.acquire()
            gates.append(gate)
            try:
                # Look again now that a putter can see our gate.
                if items:
                    try:
                        return items.popleft()
                    except IndexError:
                        pass
                if deadline is None:
                    gate.acquire()
                else:
                    left = deadline - monotonic()
                    opened = left > 0 and gate.acquire(True, min(left, TIMEOUT_MAX))
                    if not opened and not items:
                        raise Empty
                try:
                    return items.popleft()
                except IndexError:
                    pass
            finally:
                self._leave(gate)

    def _leave(self, gate: Any) -> None:
        try:
            self._gates.remove(gate)
        except ValueError:
            # A putter opened our gate. If items are still there, the next parked
            # getter may be waiting for one of them: hand the wake-up on.
            if self._items and self._gates:
                self._open_one()

    def empty(self) -> bool:
        """Return True if the queue is empty (not reliable: it may change at once)."""
        return not self._items

    def qsize(self) -> int:
        """Return the approximate number of items in the queue (not reliable)."""
        return len(self._items)
