"""The synchronisation primitives: locks, Condition, Semaphore, Event, Barrier.

Everything here is written on the one primitive Python cannot build, the interpreter's
lock (through ``treadle.thread_core``). Waiting is always done the same way, through
``treadle.thread_core.support``: a thread that must block parks on a fresh lock of its
own (a "gate", taken once before it is queued) with ``wait_gate``, and whoever wakes it
releases that gate; a Condition keeps its gates in a ``WaiterList``. Every timeout is
checked by ``support.check_timeout``.

Semaphores keep their count as tokens in a ``collections.deque``: taking a token is a
single ``pop()`` and giving one back a single ``append()``, both atomic, so the
uncontended path takes no lock at all. Only a thread that finds no token queues a gate,
and a releaser looks at the gate queue after it has put its token back; a waiter looks
for a token once more after queueing its gate, so no wake-up is lost between the two.
"""

from __future__ import annotations

import threading as _std_threading
import warnings
import weakref
from collections import deque
from collections.abc import Callable
from itertools import repeat
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar

from treadle import thread_core
from treadle.thread_core.support import WaiterList, check_timeout, wait_gate

__all__ = [
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "Condition",
    "Event",
    "Lock",
    "PyRLock",
    "RLock",
    "Semaphore",
    "reinit_after_fork",
]

_T = TypeVar("_T")
_new_lock = thread_core.allocate_lock
_get_ident = thread_core.get_ident
_LockType = thread_core.LockType
_CRLock = thread_core.RLock

if TYPE_CHECKING:
    Lock = _LockType
else:

    class _LockClass(type):
        """The metaclass that makes ``Lock`` a class while its objects stay native.

        Calling ``Lock()`` is calling ``allocate_lock()`` (no Python frame in between),
        and ``isinstance``/``issubclass`` accept the interpreter's lock type.
        """

        __call__ = staticmethod(_new_lock)

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, _LockType)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, _LockType) or type.__subclasscheck__(cls, sub)

    class Lock(metaclass=_LockClass):
        """A primitive lock: ``Lock()`` makes a new, unlocked one.

        The object made is the interpreter's own lock (``acquire(blocking=True,
        timeout=-1)``, ``release()``, ``locked()``, a context manager), on every
        Python version; ``isinstance(obj, Lock)`` is true for it. It cannot be
        subclassed.
        """

        __slots__ = ()

        def __init_subclass__(cls, **kwargs: object) -> None:
            raise TypeError("type 'treadle.threading.Lock' is not an acceptable base type")


# ------------------------------------------------------------------------- fork registry

# Objects some thread is blocked on right now. After os.fork() only the forking thread
# lives on, so their queued gates (and any internal lock held by a vanished thread) are
# reset in the child. Only the slow, blocking paths touch this set.
_blocked_on: weakref.WeakSet[Any] = weakref.WeakSet()


def _note_blocked(obj: Any) -> None:
    # Callers check obj._fork_noted first: once per object, so that waiting stays cheap.
    try:
        _blocked_on.add(obj)
    except TypeError:  # pragma: no cover - a subclass without __weakref__
        return
    obj._fork_noted = True


def reinit_after_fork() -> None:
    """Reset every primitive a vanished thread was blocked on (run in a forked child)."""
    for obj in list(_blocked_on):
        obj._fork_noted = False
        try:
            obj._at_fork_reinit()
        except Exception:  # a broken object must not stop the rest
            continue
    _blocked_on.clear()


# ---------------------------------------------------------------------------------- RLock


def RLock(*args: object, **kwargs: object) -> Any:
    """Return a new re-entrant lock (the interpreter's fast one).

    The thread that holds it may acquire it again; other threads get it once it has
    been released as many times as it was acquired. Passing arguments is deprecated.
    """
    if args or kwargs:
        warnings.warn(
            "Passing arguments to RLock is deprecated and will be removed in 3.15",
            DeprecationWarning,
            stacklevel=2,
        )
    return _CRLock()


class PyRLock:
    """A re-entrant lock written in Python (the stdlib's ``_PyRLock`` counterpart).

    The thread that holds it may take it again; it is free for others once released
    as many times as it was taken. Its state is the plain lock under it, the ident of
    the thread that holds it and how many times that thread has taken it.
    """

    def __init__(self) -> None:
        self._block = _new_lock()
        self._owner: int | None = None
        self._count = 0

    def __repr__(self) -> str:
        cls = type(self)
        state = "locked" if self._block.locked() else "unlocked"
        where = f"{cls.__module__}.{cls.__qualname__}"
        held = f"owner={self._owner!r} count={self._count}"
        return f"<{state} {where} object {held} at {hex(id(self))}>"

    def _at_fork_reinit(self) -> None:
        self._block = _new_lock()
        self._owner = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Take the lock (again, if this thread holds it); return whether it was taken.

        *blocking* and *timeout* are those of ``Lock.acquire`` and only matter when
        another thread holds it.
        """
        me = _get_ident()
        if self._owner != me:
            if not self._block.acquire(blocking, timeout):
                return False
            self._owner = me
        self._count += 1
        return True

    __enter__ = acquire

    def release(self) -> None:
        """Give back one level; RuntimeError if the calling thread does not hold it."""
        if self._owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        if self._count > 1:
            self._count -= 1
        else:
            self._release_save()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def locked(self) -> bool:
        """Return whether any thread holds the lock."""
        return bool(self._block.locked())

    def _is_owned(self) -> bool:
        return self._owner == _get_ident()

    def _release_save(self) -> tuple[int, int | None]:
        # Let go of every level at once (a Condition's wait): the state to restore.
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        saved = (self._count, self._owner)
        self._owner, self._count = None, 0
        self._block.release()
        return saved

    def _acquire_restore(self, saved: tuple[int, int | None]) -> None:
        self._block.acquire()
        self._count, self._owner = saved

    def _recursion_count(self) -> int:
        return self._count if self._owner == _get_ident() else 0


# ------------------------------------------------------------------------------ Condition


class Condition:
    """A condition variable: threads wait on it until another notifies them.

    It wraps a lock (a new ``RLock`` unless one is given) that the caller must hold to
    wait or notify; waiting releases it and takes it back before returning. Waiters are
    woken in the order they began to wait.
    """

    _fork_noted = False

    def __init__(self, lock: Any = None) -> None:
        if lock is None:
            lock = RLock()
        self._lock = lock
        self.acquire = lock.acquire
        self.release = lock.release
        self._waiters = WaiterList()
        # A re-entrant lock lends its own helpers: they let go of (and take back) every
        # level at once, and know the lock's owner.
        for helper in ("_release_save", "_acquire_restore", "_is_owned"):
            method = getattr(lock, helper, None)
            if method is not None:
                setattr(self, helper, method)

    def _at_fork_reinit(self) -> None:
        # Every queued waiter vanished with the fork. A re-entrant lock held by one of
        # them is freed; one held by the forking thread (the child's only thread) is
        # kept. A plain lock does not know its owner and is left as it is.
        lock = self._lock
        reinit = getattr(lock, "_at_fork_reinit", None)
        is_owned = getattr(lock, "_is_owned", None)
        if reinit is not None and is_owned is not None and lock.locked() and not is_owned():
            reinit()
        self._waiters = WaiterList()

    def __enter__(self) -> bool:
        return bool(self._lock.__enter__())

    def __exit__(self, *exc: object) -> None:
        self._lock.__exit__(*exc)

    def __repr__(self) -> str:
        return f"<Condition({self._lock}, {len(self._waiters)})>"

    def locked(self) -> bool:
        """Return whether the underlying lock is held (3.14)."""
        return bool(self._lock.locked())

    def _release_save(self) -> None:
        self._lock.release()

    def _acquire_restore(self, state: object) -> None:
        self._lock.acquire()

    def _is_owned(self) -> bool:
        # A plain lock does not know its owner: if it can be taken, nobody held it.
        if self._lock.acquire(False):
            self._lock.release()
            return False
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, wait until notified (or *timeout*), retake the lock.

        Returns False if the wait timed out; a timeout of zero or less does not wait.
        RuntimeError if the calling thread does not hold the lock.
        """
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        if timeout is not None:
            timeout = check_timeout(timeout)
        if not self._fork_noted:
            _note_blocked(self)
        return self._waiters.park(timeout, self._release_save, self._acquire_restore)

    def wait_for(self, predicate: Callable[[], _T], timeout: float | None = None) -> _T:
        """Wait until ``predicate()`` is true, or *timeout* seconds have passed.

        The predicate is called with the lock held, first before any waiting. Returns
        its last value (false if the time ran out).
        """
        if timeout is not None:
            timeout = check_timeout(timeout)
        outcome = predicate()
        if outcome or timeout is None:
            while not outcome:
                self.wait()
                outcome = predicate()
            return outcome
        deadline = monotonic() + timeout
        while not outcome:
            left = deadline - monotonic()
            if left <= 0.0:
                break
            self.wait(left)
            outcome = predicate()
        return outcome

    def notify(self, n: int = 1) -> None:
        """Wake up to *n* threads waiting on this condition (the lock must be held)."""
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._waiters.wake(n)

    def notify_all(self) -> None:
        """Wake every thread waiting on this condition (the lock must be held)."""
        if not self._is_owned():
            raise RuntimeError("cannot notify on un-acquired lock")
        self._waiters.wake_all()

    def notifyAll(self) -> None:
        """Call :meth:`notify_all` (deprecated alias)."""
        warnings.warn(
            "notifyAll() is deprecated, use notify_all() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.notify_all()


# ------------------------------------------------------------------------------ Semaphore

# Tokens beyond this many are kept as a plain number (under the mutex), so that a huge
# initial value does not allocate a huge deque; they move into the deque as it drains.
_TOKEN_CAP = 4096


def _count_arg(value: object, name: str) -> int:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(value.__index__())  # type: ignore[attr-defined]
    except AttributeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None


class Semaphore:
    """A counter of permits: ``acquire()`` takes one (waiting if none), ``release()``."""

    _fork_noted = False

    def __init__(self, value: int = 1) -> None:
        value = _count_arg(value, "value")
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        held = min(value, _TOKEN_CAP)
        self._tokens: deque[None] = deque(repeat(None, held))
        # Bound once: the uncontended paths are a single call each.
        self._pop = self._tokens.pop
        self._push = self._tokens.append
        self._extra = value - held
        self._mutex = _new_lock()
        self._gates: deque[Any] = deque()

    @property
    def _value(self) -> int:
        return len(self._tokens) + self._extra

    def __repr__(self) -> str:
        cls = type(self)
        return f"<{cls.__module__}.{cls.__qualname__} at {hex(id(self))}: value={self._value}>"

    def _at_fork_reinit(self) -> None:
        self._mutex = _new_lock()
        self._gates.clear()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a permit, waiting for one if needed; return whether one was taken.

        With *blocking* false, never wait. With a *timeout*, wait at most that long.
        """
        if timeout is not None and not blocking:
            raise ValueError("can't specify timeout for non-blocking acquire")
        try:
            self._pop()
        except IndexError:
            return self._acquire_slow(blocking, timeout)
        return True

    def __enter__(self) -> bool:
        try:
            self._pop()
        except IndexError:
            return self._acquire_slow(True, None)
        return True

    def _refill(self) -> None:
        # Under the mutex: move overflow permits into the deque.
        if self._extra:
            moved = min(self._extra, _TOKEN_CAP)
            self._extra -= moved
            self._tokens.extend(repeat(None, moved))

    def _take(self) -> bool:
        tokens = self._tokens
        try:
            tokens.pop()
        except IndexError:
            if not self._extra:
                return False
            with self._mutex:
                self._refill()
            try:
                tokens.pop()
            except IndexError:
                return False
        return True

    def _acquire_slow(self, blocking: bool, timeout: float | None) -> bool:
        if self._take():
            return True
        if not blocking:
            return False
        wait = check_timeout(timeout)
        deadline = None if wait is None else monotonic() + wait
        tokens = self._tokens
        while True:
            gate = _new_lock()
            gate.acquire()
            with self._mutex:
                self._refill()
                self._gates.append(gate)
            if not self._fork_noted:
                _note_blocked(self)
            # A permit given back before the gate was queued is in the deque now.
            try:
                tokens.pop()
            except IndexError:
                left = None if deadline is None else deadline - monotonic()
                opened = wait_gate(gate, left)
                if not opened:
                    self._withdraw(gate)
                    got = self._take()
                    self._pass_on()
                    return got
            else:
                self._withdraw(gate)
                self._pass_on()
                return True
            # Woken: look for the permit we were woken for (another thread may have
            # taken it first, in which case queue again).
            if self._take():
                self._pass_on()
                return True

    def _withdraw(self, gate: Any) -> None:
        with self._mutex:
            try:
                self._gates.remove(gate)
            except ValueError:
                pass

    def _pass_on(self) -> None:
        # A waiter that leaves may have been woken for a permit it did not use.
        if self._gates and (self._tokens or self._extra):
            self._wake(len(self._tokens) + self._extra)

    def _wake(self, n: int) -> None:
        with self._mutex:
            gates = self._gates
            while gates and n > 0:
                gate = gates.popleft()
                try:
                    gate.release()
                except RuntimeError:  # pragma: no cover - reset by a fork
                    continue
                n -= 1

    def _put(self, n: int) -> None:
        tokens = self._tokens
        if len(tokens) + n <= _TOKEN_CAP:
            tokens.extend(repeat(None, n))
        else:
            with self._mutex:
                self._extra += n

    def release(self, n: int = 1) -> None:
        """Give back *n* permits, waking up to *n* waiting threads."""
        if n == 1:
            # One token per call: the deque grows only as fast as the caller releases
            # (the cap matters for huge initial values and release(n) only).
            self._push(None)
        else:
            n = _count_arg(n, "n")
            if n < 1:
                raise ValueError("n must be one or more")
            self._put(n)
        if self._gates:
            self._wake(n)

    def __exit__(self, *exc: object) -> None:
        self._push(None)
        if self._gates:
            self._wake(1)


class BoundedSemaphore(Semaphore):
    """A semaphore whose ``release()`` raises ValueError past its initial value."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self._initial_value = self._value
        # Small bounds keep every permit in the deque: releases need no lock.
        self._lock_free = self._initial_value <= _TOKEN_CAP

    def __repr__(self) -> str:
        cls = type(self)
        return (
            f"<{cls.__module__}.{cls.__qualname__} at {hex(id(self))}: "
            f"value={self._value}/{self._initial_value}>"
        )

    def release(self, n: int = 1) -> None:
        """Give back *n* permits; ValueError if that would exceed the initial value."""
        if n == 1 and self._lock_free:
            # Put the permit back first, then check: two releases racing past the bound
            # see the excess and exactly one of them takes it back and raises.
            self._push(None)
            if len(self._tokens) > self._initial_value:
                self._pop()
                raise ValueError("Semaphore released too many times")
            if self._gates:
                self._wake(1)
            return
        if n != 1:
            n = _count_arg(n, "n")
            if n < 1:
                raise ValueError("n must be one or more")
        tokens = self._tokens
        with self._mutex:
            if len(tokens) + self._extra + n > self._initial_value:
                raise ValueError("Semaphore released too many times")
            room = min(n, max(0, _TOKEN_CAP - len(tokens)))
            tokens.extend(repeat(None, room))
            self._extra += n - room
        if self._gates:
            self._wake(n)

    def __exit__(self, *exc: object) -> None:
        if self._lock_free:
            self._push(None)
            if len(self._tokens) > self._initial_value:
                self._pop()
                raise ValueError("Semaphore released too many times")
            if self._gates:
                self._wake(1)
        else:
            self.release()


# ---------------------------------------------------------------------------------- Event


class Event:
    """A flag threads can wait for: ``set()`` wakes every waiter, ``clear()`` resets."""

    _fork_noted = False

    def __init__(self) -> None:
        self._flag = False
        self._cond = _new_lock()
        self._gates: list[Any] = []

    def __repr__(self) -> str:
        cls = type(self)
        state = "set" if self._flag else "unset"
        return f"<{cls.__module__}.{cls.__qualname__} at {hex(id(self))}: {state}>"

    def _at_fork_reinit(self) -> None:
        self._cond = _new_lock()
        self._gates = []

    def is_set(self) -> bool:
        """Return whether the flag is set."""
        return self._flag

    def isSet(self) -> bool:
        """Return :meth:`is_set` (deprecated alias)."""
        warnings.warn(
            "isSet() is deprecated, use is_set() instead", DeprecationWarning, stacklevel=2
        )
        return self._flag

    def set(self) -> None:
        """Set the flag and wake every thread waiting for it."""
        with self._cond:
            self._flag = True
            gates = self._gates
            if gates:
                self._gates = []
                for gate in gates:
                    gate.release()

    def clear(self) -> None:
        """Reset the flag: later waiters block until ``set()``."""
        # No lock: waiters only ever need to see set() (which takes it), and storing
        # the flag is a single atomic step.
        self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the flag is set (or *timeout*); return whether it was set."""
        if timeout is not None:
            timeout = check_timeout(timeout)
        flag = self._flag  # read into a local: the second look below is a fresh one
        if flag:
            return True
        if not self._fork_noted:
            _note_blocked(self)
        gate = _new_lock()
        gate.acquire()
        with self._cond:
            if self._flag:  # set meanwhile
                return True
            self._gates.append(gate)
        if timeout is None:
            gate.acquire()
            return True
        if wait_gate(gate, timeout):
            return True
        with self._cond:
            try:
                self._gates.remove(gate)
            except ValueError:
                return True  # set() opened it as we gave up
            return self._flag


# -------------------------------------------------------------------------------- Barrier


# The stdlib's class itself (DESIGN: type identity): code written for threading catches
# what treadle's barriers raise, and treadle's callers catch what other barriers built on
# the stdlib's class raise (multiprocessing's, treadle's included).
BrokenBarrierError = _std_threading.BrokenBarrierError


class _Round:
    __slots__ = ("broken",)

    def __init__(self) -> None:
        self.broken = False


class Barrier:
    """A meeting point for *parties* threads: each ``wait()`` blocks until all arrive.

    *action*, if given, is called by one of the threads when all have arrived, before
    any is released. *timeout* is the default for ``wait()``.
    """

    _fork_noted = False

    def __init__(
        self,
        parties: int,
        action: Callable[[], object] | None = None,
        timeout: float | None = None,
    ) -> None:
        parties = _count_arg(parties, "parties")
        if parties < 1:
            raise ValueError("parties must be >= 1")
        if action is not None and not callable(action):
            raise TypeError(f"action must be callable or None, not {type(action).__name__}")
        if timeout is not None:
            timeout = check_timeout(timeout)
        self._cond = Condition(_new_lock())
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._round = _Round()
        self._count = 0
        self._broken = False

    def __repr__(self) -> str:
        cls = type(self)
        where = f"<{cls.__module__}.{cls.__qualname__} at {hex(id(self))}"
        if self._broken:
            return f"{where}: broken>"
        return f"{where}: waiters={self.n_waiting}/{self._parties}>"

    def _at_fork_reinit(self) -> None:
        self._cond = Condition(_new_lock())
        self._count = 0

    def wait(self, timeout: float | None = None) -> int:
        """Wait until every party has called ``wait()``; return this thread's index.

        Raises BrokenBarrierError if the barrier is, or becomes, broken or reset, or
        the wait times out (which breaks it).
        """
        timeout = self._timeout if timeout is None else check_timeout(timeout)
        cond = self._cond
        with cond:
            if self._broken:
                raise BrokenBarrierError
            mine = self._round
            index = self._count
            self._count += 1
            if self._count == self._parties:
                if self._action is not None:
                    try:
                        self._action()
                    except BaseException:
                        self._break()
                        raise
                self._round = _Round()
                self._count = 0
                cond.notify_all()
                return index
            if not self._fork_noted:
                _note_blocked(self)
            done = cond.wait_for(lambda: mine.broken or self._round is not mine, timeout)
            if mine.broken:
                raise BrokenBarrierError
            if not done:
                self._break()
                raise BrokenBarrierError
            return index

    def _break(self) -> None:
        self._broken = True
        self._round.broken = True
        self._count = 0
        self._cond.notify_all()

    def reset(self) -> None:
        """Return the barrier to its empty state; current waiters get BrokenBarrierError."""
        with self._cond:
            if self._count:
                self._round.broken = True
                self._cond.notify_all()
            self._round = _Round()
            self._count = 0
            self._broken = False

    def abort(self) -> None:
        """Break the barrier: current and future waits raise BrokenBarrierError."""
        with self._cond:
            self._break()

    @property
    def parties(self) -> int:
        """The number of threads needed to pass the barrier."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """The number of threads waiting at the barrier now."""
        return 0 if self._broken else self._count

    @property
    def broken(self) -> bool:
        """Whether the barrier is broken."""
        return self._broken

    @property
    def action(self) -> Callable[[], object] | None:
        """The callable run when all parties have arrived."""
        return self._action

    @property
    def timeout(self) -> float | None:
        """The default timeout of ``wait()``."""
        return self._timeout
