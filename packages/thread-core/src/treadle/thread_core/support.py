"""What the other treadle packages build on: one timeout rule, one way to park a thread.

Every blocking call in treadle (a condition's ``wait``, a queue's ``get``, a future's
``result``, a thread's ``join``) validates its *timeout* with :func:`check_timeout` and
blocks through :func:`wait_gate`, :func:`pass_gate` or a :class:`WaiterList`, so the
rules are written once:

* a timeout is ``None`` (wait for ever) or a real number; anything else is a
  :exc:`TypeError`, and NaN a :exc:`ValueError`, whose message names the argument;
* a wait of zero or less does not block; a longer one is capped at ``TIMEOUT_MAX``.

A *gate* is one of the interpreter's plain locks, taken by the thread that will open it
and released to open it. A parked thread blocks on the gate's ``acquire``, which is the
cheapest way the interpreter offers to sleep until another thread says so.

:func:`publish` makes the names a package exports report that package as their module.
This module is for treadle's own packages; programs have no use for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, MutableMapping
from numbers import Real
from time import sleep
from types import FunctionType
from typing import TypeVar

from ._native import TIMEOUT_MAX, LockType, allocate_lock

__all__ = ["WaiterList", "check_timeout", "pass_gate", "publish", "take_lock", "wait_gate"]

_S = TypeVar("_S")

_YIELDS = 20
"""How many times :func:`take_lock` gives up the GIL before it blocks on the lock."""


def check_timeout(timeout: object, name: str = "timeout", *, negative: bool = True) -> float | None:
    """Return *timeout* as a float, or None for None.

    *name* is the argument's name in the caller's signature and appears in the message
    of the :exc:`TypeError` (not a real number) or :exc:`ValueError` (NaN; a negative
    value when *negative* is false) raised for a bad value. A bool counts as the int it
    is (``True`` is one second), as every stdlib timeout takes it.
    """
    if timeout is None:
        return None
    kind = type(timeout)
    if kind is float or kind is int:
        value = float(timeout)  # type: ignore[arg-type]
    elif isinstance(timeout, Real):
        value = float(timeout)
    else:
        raise TypeError(f"{name!r} must be a real number or None, not {kind.__name__}")
    if value < 0.0 and not negative:
        raise ValueError(f"{name!r} must be a non-negative number")
    if value != value:  # noqa: PLR0124 - NaN alone is unequal to itself; cheaper than isnan
        raise ValueError(f"{name!r} must not be NaN")
    return value


def wait_gate(gate: LockType, timeout: float | None) -> bool:
    """Block until *gate* can be taken, or *timeout* seconds pass; return whether taken.

    *timeout* has been through :func:`check_timeout`. The caller now holds the gate when
    this returns True.
    """
    if timeout is None:
        return gate.acquire()
    if timeout > 0.0:
        return gate.acquire(True, timeout if timeout < TIMEOUT_MAX else TIMEOUT_MAX)
    return gate.acquire(False)


def pass_gate(gate: LockType, timeout: float | None) -> bool:
    """Wait for *gate* to be opened and leave it open for the next thread.

    For gates that open once for everyone (a finished future, a thread's end): each
    waiter takes the opened gate and releases it at once.
    """
    if wait_gate(gate, timeout):
        gate.release()
        return True
    return False


def take_lock(lock: LockType) -> None:
    """Take *lock*, which a try without blocking may have found held by another thread.

    Under a GIL the holder is a thread that lost the GIL inside its critical section (or
    one that took the lock from the kernel while it waited for the GIL). Blocking on the
    lock here hands the GIL to that thread, and the two then tend to take turns for every
    item, each turn two context switches: a lock convoy, which made producer/consumer
    runs on 3.10 three to eight times slower than they need be. Giving up the GIL with
    ``sleep(0)`` lets the holder finish its (short) critical section while this thread
    keeps its place to run; after a few tries (a holder blocked in I/O, say) it blocks as
    usual. Callers try ``lock.acquire(False)`` first and call this only when that fails.
    """
    tries = _YIELDS
    while not lock.acquire(False):
        if not tries:
            lock.acquire()
            return
        tries -= 1
        sleep(0)


class WaiterList:
    """Threads parked in arrival order until another thread wakes them.

    The owner guards the list with a lock of its own (a condition's lock, a queue's
    mutex) and calls every method with that lock held. :meth:`park` drops the lock
    while the thread sleeps, through two callables the owner gives, so the same list
    serves a plain lock, a re-entrant lock released at every level, or a lock taken
    back with a back-off.
    """

    __slots__ = ("gates",)

    def __init__(self) -> None:
        # The parked threads' gates, longest-parked first. An owner on a hot path may
        # test it and popleft() from it under its lock: pop() without the call.
        self.gates: deque[LockType] = deque()

    def __len__(self) -> int:
        return len(self.gates)

    def park(
        self,
        timeout: float | None,
        release: Callable[[], _S],
        restore: Callable[[_S], object],
    ) -> bool:
        """Sleep until woken or *timeout* runs out; return False if it ran out.

        ``release()`` drops the owner's lock and returns whatever ``restore`` needs to
        take it back; ``restore`` runs before this returns or raises. A thread woken
        just as its time ran out counts as woken. If the wait is interrupted (Ctrl-C),
        a wake-up already meant for this thread is handed to the next one.
        """
        gate = allocate_lock()
        gate.acquire()
        gates = self.gates
        gates.append(gate)
        saved = release()
        try:
            # An untimed wait, the common case, blocks on the gate without another call.
            woken = gate.acquire() if timeout is None else wait_gate(gate, timeout)
        except BaseException:
            restore(saved)
            if not self._withdraw(gate):
                self.wake(1)
            raise
        restore(saved)
        if not woken:
            woken = not self._withdraw(gate)
        return woken

    def park_lock(self, lock: LockType, timeout: float | None) -> bool:
        """:meth:`park` for an owner whose lock is a plain lock, taken once.

        Drops *lock* while the thread sleeps and takes it back with :func:`take_lock`,
        without the two callables: a queue parks on every blocked put and get, and the
        calls :meth:`park` makes cost a hand-off between two threads about a tenth.
        """
        gate = allocate_lock()
        gate.acquire()
        self.gates.append(gate)
        lock.release()
        try:
            woken = gate.acquire() if timeout is None else wait_gate(gate, timeout)
        except BaseException:
            # Ctrl-C: the owner expects its lock held, and a wake-up already meant for
            # this thread goes to the next one.
            if not lock.acquire(False):
                take_lock(lock)
            if not self._withdraw(gate):
                self.wake(1)
            raise
        if not lock.acquire(False):
            take_lock(lock)
        if not woken:
            woken = not self._withdraw(gate)
        return woken

    def _withdraw(self, gate: LockType) -> bool:
        """Take *gate* off the list; False if a waker took it off first."""
        try:
            self.gates.remove(gate)
        except ValueError:
            return False
        return True

    def wake(self, n: int = 1) -> int:
        """Wake the *n* longest-parked threads (fewer if fewer wait); return how many."""
        gates = self.gates
        woken = 0
        while gates and woken < n:
            gates.popleft().release()
            woken += 1
        return woken

    def pop(self) -> LockType | None:
        """Take the longest-parked thread off the list without waking it yet.

        Returns its gate (None if nobody waits). The caller opens it with
        ``gate.release()`` once it has dropped its own lock, so that the woken thread
        does not run straight into that lock held (a hand-off that costs two context
        switches). The thread counts as woken from this moment.
        """
        gates = self.gates
        return gates.popleft() if gates else None

    def wake_all(self) -> int:
        """Wake every parked thread; return how many."""
        gates = self.gates
        count = len(gates)
        while gates:
            gates.popleft().release()
        return count


def publish(namespace: MutableMapping[str, object]) -> None:
    """Make each class and function in the module's ``__all__`` report the module.

    Call it last in a package's ``__init__`` with ``globals()``: names defined in its
    private modules then show the public path (``treadle.queue.Queue``) in reprs,
    pickles and documentation. Objects of other packages, the stdlib's and the
    interpreter's own keep their module.
    """
    home = str(namespace["__name__"])
    package_prefix = home + "."
    for name in namespace.get("__all__", ()):  # type: ignore[attr-defined]
        obj = namespace[name]
        if isinstance(obj, (type, FunctionType)) and obj.__module__.startswith(package_prefix):
            obj.__module__ = home
