"""SimpleQueue: an unbounded FIFO queue whose ``put`` takes no lock.

The items live in a ``collections.deque``, whose ``append`` and ``popleft`` are atomic.
A getter that finds no item parks on a gate (a fresh lock of its own, taken once) in a
list of gates, then looks for an item once more; a putter appends its item, then opens
the first parked gate if there is one. Neither side ever holds a lock the other needs,
so ``put`` may run in a ``__del__`` method or a signal handler that interrupted a
``put`` or ``get`` of the same thread.

No wake-up is lost: a getter looks again after it has parked its gate, a putter looks
for gates after it has appended its item, and a getter that leaves the slow path while
items remain opens the next gate (so a wake-up it did not need is handed on).

Speed: the stdlib's SimpleQueue is C, so every interpreter step on the fast paths counts.
Each queue gets its own ``put`` and ``get`` functions, closures over the deque's bound
methods and the gate list, stored on the instance: a call is then one plain function
call whose body reads only cells (no ``self``, no attribute lookups). The class keeps
ordinary methods with the same behaviour, for subclasses that override them and for
calls through the class.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from time import monotonic
from types import GenericAlias
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from treadle.thread_core import allocate_lock
from treadle.thread_core.support import check_timeout, wait_gate

from ._native import Empty

__all__ = ["SimpleQueue"]

_T = TypeVar("_T")


class SimpleQueue(Generic[_T]):
    """A simple, unbounded first-in, first-out queue.

    It has no ``task_done``/``join`` and no size bound; ``put`` never blocks and is
    reentrant.
    """

    def __init__(self) -> None:
        items: deque[_T] = deque()
        # A list, not a deque: the test "is a getter parked?" on every put is cheapest
        # on a list, and there are rarely more than a few gates to pop from the front.
        gates: list[Any] = []
        self._items = items
        self._gates = gates
        cls = type(self)
        fast: dict[str, Callable[..., Any]] = {}
        # Only where the class's own method is in force: a subclass's override wins.
        if cls.put is SimpleQueue.put:
            fast["put"] = _make_put(items, gates)
        if cls.get is SimpleQueue.get:
            fast["get"] = _make_get(items, gates)
        vars(self).update(fast)

    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(GenericAlias)

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        """Put *item* into the queue. Never blocks: *block* and *timeout* are ignored."""
        self._items.append(item)
        if self._gates:
            _open_one(self._gates)

    def put_nowait(self, item: _T) -> None:
        """Put *item* into the queue: the same as ``put(item)``."""
        self.put(item, False)

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return an item from the queue.

        With *block* true (the default) wait for an item, for at most *timeout* seconds
        if it is not None (then raise Empty); with *block* false raise Empty at once if
        none is there (*timeout* is then ignored).
        """
        return _get(self._items, self._gates, block, timeout)

    def get_nowait(self) -> _T:
        """Take an item without blocking: the same as ``get(False)``."""
        try:
            return self._items.popleft()
        except IndexError:
            raise Empty from None

    def empty(self) -> bool:
        """Return True if the queue is empty (not reliable: it may change at once)."""
        return not self._items

    def qsize(self) -> int:
        """Return the approximate number of items in the queue (not reliable)."""
        return len(self._items)


def _make_put(items: deque[Any], gates: list[Any]) -> Callable[..., None]:
    append = items.append

    def put(item: Any, block: bool = True, timeout: float | None = None) -> None:
        append(item)
        if gates:
            _open_one(gates)

    put.__doc__ = SimpleQueue.put.__doc__
    put.__qualname__ = "SimpleQueue.put"
    return put


def _make_get(items: deque[Any], gates: list[Any]) -> Callable[..., Any]:
    popleft = items.popleft

    def get(block: bool = True, timeout: float | None = None) -> Any:
        if timeout is None:
            try:
                return popleft()
            except IndexError:
                pass
        return _get(items, gates, block, timeout)

    get.__doc__ = SimpleQueue.get.__doc__
    get.__qualname__ = "SimpleQueue.get"
    return get


def _open_one(gates: list[Any]) -> None:
    try:
        gate = gates.pop(0)
    except IndexError:  # another putter took the last one
        return
    gate.release()


def _get(items: deque[_T], gates: list[Any], block: bool, timeout: float | None) -> _T:
    # The whole of get(): the fast closure comes here only when it found no item or
    # was given a timeout.
    if block and timeout is not None:
        timeout = check_timeout(timeout, negative=False)
    try:
        return items.popleft()
    except IndexError:
        if not block:
            raise Empty from None
    return _wait(items, gates, None if timeout is None else monotonic() + timeout)


def _wait(items: deque[_T], gates: list[Any], deadline: float | None) -> _T:
    # Park a fresh gate, look once more (a putter may have come before it saw the
    # gate), sleep on the gate, take an item; go round again if another getter was
    # quicker, unless the time is up.
    while True:
        gate = allocate_lock()
        gate.acquire()
        gates.append(gate)
        try:
            if not items:
                if deadline is None:
                    gate.acquire()  # the common case, without wait_gate's call
                elif not (wait_gate(gate, deadline - monotonic()) or items):
                    raise Empty
            try:
                return items.popleft()
            except IndexError:
                pass
        finally:
            _leave(items, gates, gate)


def _leave(items: deque[Any], gates: list[Any], gate: Any) -> None:
    try:
        gates.remove(gate)
    except ValueError:
        # A putter opened our gate. If items are still there, the next parked getter
        # may be waiting for one of them: hand the wake-up on.
        if items and gates:
            _open_one(gates)
