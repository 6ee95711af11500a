"""Locks, semaphores, conditions, events and barriers shared between processes.

Every object here is built on the interpreter's process-shared semaphore
(``_native.semlock_type()``, a POSIX named semaphore). What a child may receive follows 3.14:

* a fork child inherits the objects its parent holds;
* a spawn or forkserver child gets them only while it is being prepared (as arguments
  of the :class:`~treadle.multiprocessing.Process`, or inside other objects sent then);
  it reopens each semaphore by name. An object made in a ``fork`` context has no name
  (it is removed from the file system at once, so that nothing can leak) and refuses to
  go to such a child with the stdlib's ``RuntimeError``.

Named semaphores are registered with the resource tracker, so a creator killed with
SIGKILL leaks none: the tracker removes them once every process of the tree has ended.
A lock held by a process that dies stays held (a POSIX semaphore has no owner to
recover it from): the others see ``acquire(timeout=...)`` return False.
"""

# Imports inside functions are deliberate: a spawned child imports this module whenever
# it receives a lock, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import operator
import os

from . import _context, _native, _tracker, _util

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    _T = TypeVar("_T")


# The two kinds the C semaphore knows, and its largest count.
RECURSIVE_MUTEX = 0
SEMAPHORE = 1
_SemLock = _native.semlock_type()
SEM_VALUE_MAX: int = _SemLock.SEM_VALUE_MAX if _SemLock is not None else 0

_FORK_CONTEXT_MESSAGE = (
    "A SemLock created in a fork context is being shared with a process in a spawn"
    " context. This is not supported. Please use the same context to create"
    " multiprocessing objects and Process."
)

# How many fresh names to try before giving up (a clash means another process picked
# the same random name at the same moment: practically never twice in a row).
_NAME_ATTEMPTS = 100


def _fresh_name() -> str:
    from ._process import current_process

    prefix = current_process()._config.get("semprefix", "/mp")
    return f"{prefix}-{os.urandom(6).hex()}"


def _forget_name(name: str) -> None:
    """Remove the named semaphore *name* and tell the tracker it is gone."""
    try:
        _native.sem_unlink(name)
    finally:
        _tracker.unregister(name, "semaphore")


def _reinit_after_fork(obj: SemLock) -> None:
    # The C object counts the acquisitions of this process's threads: a fork child
    # holds none of them.
    obj._semlock._after_fork()


def _as_int(value: object, what: str) -> int:
    # What the C semaphore accepts: an int or anything with __index__ (bool included).
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be an integer, not {type(value).__name__}") from None


def _check_count(value: object, what: str) -> int:
    count = _as_int(value, what)
    if count < 0:
        raise ValueError(f"{what} must be >= 0, got {count}")
    if count > SEM_VALUE_MAX:
        raise ValueError(f"{what} must be <= SEM_VALUE_MAX ({SEM_VALUE_MAX}), got {count}")
    return count


def _this_thread_label() -> str:
    import threading

    from ._process import current_process

    label = current_process().name
    thread = threading.current_thread().name
    return label if thread == "MainThread" else f"{label}|{thread}"


def _bind_lock_methods(owner: object, lock: Any) -> None:
    """Make *owner*'s acquire, release and with-statement those of *lock* itself.

    Instance attributes shadow the class's methods, so the hot path of every lock (and of
    a condition over one) goes straight to C, without a Python frame in between.
    """
    vars(owner).update(
        acquire=lock.acquire,
        release=lock.release,
        _enter=lock.__enter__,
        _exit=lock.__exit__,
    )


class SemLock:
    """A process-shared semaphore of one *kind*, the base of the locks and semaphores.

    ``acquire(block=True, timeout=None)`` and ``release()`` are the C object's own
    methods (bound on each instance, so that a call costs what the stdlib's does).
    """

    _semlock: Any
    _is_fork_ctx: bool

    def __init__(self, kind: int, value: int, maxvalue: int, *, ctx: Any) -> None:
        if _SemLock is None:  # pragma: no cover - a build without sem_open
            raise ImportError("This platform lacks a functioning sem_open implementation")
        if kind not in (RECURSIVE_MUTEX, SEMAPHORE):
            raise ValueError(f"kind must be RECURSIVE_MUTEX or SEMAPHORE, got {kind!r}")
        if ctx is None:
            ctx = _context._default_context.get_context()
        self._is_fork_ctx = ctx.get_start_method() == "fork"
        # A fork context's semaphore is nameless: its children inherit it, no one else
        # may open it, and nothing is left behind whatever happens to its creator.
        anonymous = self._is_fork_ctx
        semlock = None
        for _ in range(_NAME_ATTEMPTS):
            try:
                semlock = _SemLock(kind, value, maxvalue, _fresh_name(), anonymous)
                break
            except FileExistsError:
                continue
        if semlock is None:
            raise FileExistsError("cannot find name for semaphore")
        self._adopt(semlock)
        _util.register_after_fork(self, _reinit_after_fork)
        name = semlock.name
        if name is not None:
            _tracker.register(name, "semaphore")
            _util.Finalize(self, _forget_name, (name,), exitpriority=0)

    def _adopt(self, semlock: Any) -> None:
        self._semlock = semlock
        _bind_lock_methods(self, semlock)

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        """Take the semaphore; False if *block* is false or *timeout* ran out first."""
        return bool(self._semlock.acquire(block, timeout))

    def release(self) -> None:
        """Give the semaphore back."""
        self._semlock.release()

    def locked(self) -> bool:
        """Return True if the semaphore cannot be acquired at once (3.14)."""
        return bool(self._semlock._is_zero())

    if TYPE_CHECKING:

        def __enter__(self) -> bool: ...
        def __exit__(self, *exc_info: object) -> None: ...

    else:
        # `with lock:` calls the C object's own methods (kept on the instance), found
        # through C code only (a property whose getter is an attrgetter): no Python
        # frame on the way.
        __enter__ = property(operator.attrgetter("_enter"))
        __exit__ = property(operator.attrgetter("_exit"))

    def __getstate__(self) -> tuple[int, int, int, str | None]:
        _context.assert_spawning(self)
        if self._is_fork_ctx:
            raise RuntimeError(_FORK_CONTEXT_MESSAGE)
        semlock = self._semlock
        return (semlock.handle, semlock.kind, semlock.maxvalue, semlock.name)

    def __setstate__(self, state: tuple[int, int, int, str | None]) -> None:
        self._adopt(_SemLock._rebuild(*state))
        # What a child received may be passed on to its own children (gh-108520).
        self._is_fork_ctx = False


class Semaphore(SemLock):
    """A counting semaphore shared between processes, starting at *value*."""

    def __init__(self, value: int = 1, *, ctx: Any) -> None:
        count = _check_count(value, "value")
        super().__init__(SEMAPHORE, count, SEM_VALUE_MAX, ctx=ctx)

    def get_value(self) -> int:
        """Return the current count (NotImplementedError where ``sem_getvalue`` is missing)."""
        return int(self._semlock._get_value())

    def _value_text(self) -> str:
        try:
            return str(self.get_value())
        except Exception:
            return "unknown"

    def __repr__(self) -> str:
        return f"<{type(self).__name__}(value={self._value_text()})>"


class BoundedSemaphore(Semaphore):
    """A semaphore whose ``release`` raises ValueError rather than go above *value*."""

    def __init__(self, value: int = 1, *, ctx: Any) -> None:
        count = _check_count(value, "value")
        SemLock.__init__(self, SEMAPHORE, count, count, ctx=ctx)

    def __repr__(self) -> str:
        limit = self._semlock.maxvalue
        return f"<{type(self).__name__}(value={self._value_text()}, maxvalue={limit})>"


class Lock(SemLock):
    """A non-recursive lock shared between processes.

    Any process or thread may release it; releasing it when it is not held raises
    ValueError.
    """

    def __init__(self, *, ctx: Any) -> None:
        super().__init__(SEMAPHORE, 1, 1, ctx=ctx)

    def __repr__(self) -> str:
        semlock = self._semlock
        try:
            if semlock._is_mine():
                owner = _this_thread_label()
            elif not semlock._is_zero():
                owner = "None"
            else:
                # Held, and not by this thread: by another thread of this process if
                # this process's acquisitions count it.
                owner = "SomeOtherThread" if semlock._count() > 0 else "SomeOtherProcess"
        except Exception:
            owner = "unknown"
        return f"<{type(self).__name__}(owner={owner})>"


class RLock(SemLock):
    """A recursive lock shared between processes, owned by one thread of one process.

    Releasing it from a thread that does not own it raises AssertionError.
    """

    def __init__(self, *, ctx: Any) -> None:
        super().__init__(RECURSIVE_MUTEX, 1, 1, ctx=ctx)

    def __repr__(self) -> str:
        semlock = self._semlock
        owner: str
        depth: object
        try:
            if semlock._is_mine():
                owner, depth = _this_thread_label(), semlock._count()
            elif semlock._get_value() == 1:
                owner, depth = "None", 0
            else:
                held_here = semlock._count() > 0
                owner = "SomeOtherThread" if held_here else "SomeOtherProcess"
                depth = "nonzero"
        except Exception:
            owner, depth = "unknown", "unknown"
        return f"<{type(self).__name__}({owner}, {depth})>"


class Condition:
    """A condition variable shared between processes, over *lock* (a new RLock if None).

    ``wait``, ``wait_for``, ``notify`` and ``notify_all`` need the lock held by the
    calling thread (AssertionError otherwise, as in the stdlib).
    """

    # Three semaphores carry the waiters' hand-shake:
    # - _sleepers counts the waiters that said they sleep and no notifier has counted;
    # - _wakeups is what a sleeper blocks on, released once per waiter woken;
    # - _leavers is released by every waiter on its way out (woken or timed out), so a
    #   notifier knows when those it woke have gone, and can square the books for those
    #   that left by themselves.
    def __init__(self, lock: Any = None, *, ctx: Any) -> None:
        if ctx is None:
            ctx = _context._default_context.get_context()
        self._lock: Any = ctx.RLock() if lock is None else lock
        self._sleepers: Semaphore = ctx.Semaphore(0)
        self._wakeups: Semaphore = ctx.Semaphore(0)
        self._leavers: Semaphore = ctx.Semaphore(0)
        self._bind()

    def _bind(self) -> None:
        _bind_lock_methods(self, self._lock)

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        """Acquire the underlying lock."""
        return bool(self._lock.acquire(block, timeout))

    def release(self) -> None:
        """Release the underlying lock."""
        self._lock.release()

    if TYPE_CHECKING:

        def __enter__(self) -> bool: ...
        def __exit__(self, *exc_info: object) -> None: ...

    else:
        # The lock's own methods, as for SemLock.
        __enter__ = property(operator.attrgetter("_enter"))
        __exit__ = property(operator.attrgetter("_exit"))

    def __getstate__(self) -> tuple[Any, Semaphore, Semaphore, Semaphore]:
        _context.assert_spawning(self)
        return (self._lock, self._sleepers, self._wakeups, self._leavers)

    def __setstate__(self, state: tuple[Any, Semaphore, Semaphore, Semaphore]) -> None:
        self._lock, self._sleepers, self._wakeups, self._leavers = state
        self._bind()

    def __repr__(self) -> str:
        try:
            waiting: object = self._sleepers.get_value() - self._leavers.get_value()
        except Exception:
            waiting = "unknown"
        return f"<{type(self).__name__}({self._lock}, {waiting})>"

    # The stdlib's private names of the three semaphores, which CPython's tests read to
    # check that no waiter is left counted.
    @property
    def _sleeping_count(self) -> Semaphore:
        return self._sleepers

    @property
    def _woken_count(self) -> Semaphore:
        return self._leavers

    @property
    def _wait_semaphore(self) -> Semaphore:
        return self._wakeups

    def _held_depth(self, message: str) -> int:
        semlock = self._lock._semlock
        if not semlock._is_mine():
            raise AssertionError(message)
        return int(semlock._count())

    def _set_lock_depth(self, levels: int, *, held: bool) -> None:
        # Every level of a recursive lock is let go before sleeping, and retaken after.
        step = self._lock.acquire if held else self._lock.release
        for _ in range(levels):
            step()

    def wait(self, timeout: float | None = None) -> bool:
        """Release the lock, sleep until notified or *timeout* passes, take it back.

        Return False if the timeout ran out, True otherwise.
        """
        levels = self._held_depth("must acquire() condition before using wait()")
        self._sleepers.release()
        self._set_lock_depth(levels, held=False)
        notified = False
        try:
            notified = self._wakeups.acquire(True, timeout)
        finally:
            # Said on the way out whatever happened (wake-up, timeout, interrupt).
            self._leavers.release()
            self._set_lock_depth(levels, held=True)
        return bool(notified)

    def _forget_departed(self) -> None:
        # A waiter that timed out left a token in _leavers while still counted in
        # _sleepers: take both, so that no notify counts it as a sleeper again.
        leavers, sleepers = self._leavers, self._sleepers
        while leavers.acquire(False):
            sleepers.acquire(False)

    def _wake(self, most: int) -> int:
        sleepers, wakeups = self._sleepers, self._wakeups
        count = 0
        while count < most and sleepers.acquire(False):
            wakeups.release()
            count += 1
        return count

    def _see_off(self, woken: int) -> None:
        for _ in range(woken):
            self._leavers.acquire()
        # One of them may have timed out just before its wake-up came: take back the
        # wake-ups nobody used, or a later waiter would return at once.
        while self._wakeups.acquire(False):
            continue

    def notify(self, n: int = 1) -> None:
        """Wake at most *n* of the processes or threads waiting on this condition."""
        if not self._lock._semlock._is_mine():
            raise AssertionError("lock is not owned")
        self._forget_departed()
        woken = self._wake(n)
        if woken:
            self._see_off(woken)

    def notify_all(self) -> None:
        """Wake every process or thread waiting on this condition."""
        self.notify(SEM_VALUE_MAX)

    def wait_for(self, predicate: Callable[[], _T], timeout: float | None = None) -> _T:
        """Wait until *predicate()* is true or *timeout* passes; return its last value."""
        outcome = predicate()
        if outcome or timeout is None:
            while not outcome:
                self.wait()
                outcome = predicate()
            return outcome
        import time

        deadline = time.monotonic() + timeout
        while not outcome:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.wait(left)
            outcome = predicate()
        return outcome


class Event:
    """A flag shared between processes that waiters block on until it is set."""

    def __init__(self, *, ctx: Any) -> None:
        if ctx is None:
            ctx = _context._default_context.get_context()
        self._cond: Condition = ctx.Condition(ctx.Lock())
        # Count 1 when set, 0 when clear; changed only under the condition's lock.
        self._flag: Semaphore = ctx.Semaphore(0)
        self._wire()

    def _wire(self) -> None:
        # The C objects themselves: `with` on the C lock skips two Python layers, and
        # the flag is read with one C call.
        self._guard: Any = self._cond._lock._semlock
        self._bit: Any = self._flag._semlock

    def __getstate__(self) -> tuple[Condition, Semaphore]:
        _context.assert_spawning(self)
        return (self._cond, self._flag)

    def __setstate__(self, state: tuple[Condition, Semaphore]) -> None:
        self._cond, self._flag = state
        self._wire()

    def is_set(self) -> bool:
        """Return True if the flag is set."""
        with self._guard:
            return not self._bit._is_zero()

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        with self._guard:
            if self._bit._is_zero():
                self._bit.release()
            self._cond.notify_all()

    def clear(self) -> None:
        """Clear the flag."""
        with self._guard:
            self._bit.acquire(False)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the flag is set or *timeout* passes; return the flag."""
        with self._guard:
            if not self._bit._is_zero():
                return True
            # One wait, then the flag as it is now (set and cleared again meanwhile
            # reads as False, as in the stdlib).
            self._cond.wait(timeout)
            return not self._bit._is_zero()

    def __repr__(self) -> str:
        state = "set" if self.is_set() else "unset"
        return f"<{type(self).__qualname__} at {id(self):#x} {state}>"


class _SharedInt:
    """A small non-negative integer every process sees: the count of a semaphore.

    Read and written only under a lock shared by all its users.
    """

    def __init__(self, ctx: Any) -> None:
        self._sem: Semaphore = ctx.Semaphore(0)

    def __getstate__(self) -> Semaphore:
        return self._sem

    def __setstate__(self, state: Semaphore) -> None:
        self._sem = state

    def get(self) -> int:
        return self._sem.get_value()

    def set(self, target: int) -> None:
        current = self._sem.get_value()
        while current < target:
            self._sem.release()
            current += 1
        while current > target:
            self._sem.acquire(False)
            current -= 1


# The barrier's phases, stored in a _SharedInt.
_FILLING = 0  # parties are arriving
_DRAINING = 1  # the barrier tripped: the waiters of that round are leaving
_RESETTING = 2  # reset() while parties waited: they leave with BrokenBarrierError
_BROKEN = 3  # abort(), a timeout or a failed action: every wait raises until reset()


def _broken_error() -> BaseException:
    import threading

    return threading.BrokenBarrierError()


class Barrier:
    """A barrier for *parties* processes or threads (``threading.Barrier``'s API).

    ``wait()`` returns each party's arrival index (0 to ``parties - 1``); the last to
    arrive runs *action* first. A timeout (the *timeout* given here is the default of
    ``wait``), ``abort()`` or a failing action break the barrier: waiters raise
    ``threading.BrokenBarrierError`` until ``reset()``.
    """

    def __init__(
        self,
        parties: int,
        action: Callable[[], object] | None = None,
        timeout: float | None = None,
        *,
        ctx: Any,
    ) -> None:
        parties = _as_int(parties, "parties")
        if parties < 1:
            raise ValueError(f"parties must be >= 1, got {parties}")
        if action is not None and not callable(action):
            raise TypeError(f"action must be callable or None, not {type(action).__name__}")
        if ctx is None:
            ctx = _context._default_context.get_context()
        self._parties = parties
        self._action = action
        self._timeout = timeout
        self._cond: Condition = ctx.Condition(ctx.Lock())
        self._phase = _SharedInt(ctx)
        self._arrived = _SharedInt(ctx)

    def __getstate__(self) -> tuple[Any, ...]:
        _context.assert_spawning(self)
        return (self._parties, self._action, self._timeout, self._cond, self._phase, self._arrived)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        (
            self._parties, self._action, self._timeout,
            self._cond, self._phase, self._arrived,
        ) = state  # fmt: skip

    @property
    def parties(self) -> int:
        """The number of parties needed to pass the barrier."""
        return self._parties

    @property
    def n_waiting(self) -> int:
        """How many parties wait at the barrier now."""
        with self._cond:
            return self._arrived.get() if self._phase.get() == _FILLING else 0

    @property
    def broken(self) -> bool:
        """True if the barrier is broken."""
        with self._cond:
            return self._phase.get() == _BROKEN

    def _trip(self) -> None:
        self._phase.set(_BROKEN)
        self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for every party; return this one's arrival index.

        Raises ``threading.BrokenBarrierError`` if the barrier is or gets broken or
        reset while waiting, or *timeout* (default: the barrier's) passes.
        """
        if timeout is None:
            timeout = self._timeout
        cond, phase, arrived = self._cond, self._phase, self._arrived
        with cond:
            # The previous round's waiters must all be gone before a new one fills.
            cond.wait_for(lambda: phase.get() in (_FILLING, _BROKEN))
            if phase.get() == _BROKEN:
                raise _broken_error()
            index = arrived.get()
            arrived.set(index + 1)
            try:
                if index + 1 == self._parties:
                    self._pass_round()
                else:
                    self._await_round(timeout)
                return index
            finally:
                left = arrived.get() - 1
                arrived.set(left)
                if left == 0 and phase.get() in (_DRAINING, _RESETTING):
                    phase.set(_FILLING)
                    cond.notify_all()

    def _pass_round(self) -> None:
        if self._action is not None:
            try:
                self._action()
            except BaseException:
                self._trip()
                raise
        self._phase.set(_DRAINING)
        self._cond.notify_all()

    def _await_round(self, timeout: float | None) -> None:
        phase = self._phase
        if not self._cond.wait_for(lambda: phase.get() != _FILLING, timeout):
            self._trip()
            raise _broken_error()
        if phase.get() != _DRAINING:
            raise _broken_error()

    def reset(self) -> None:
        """Return the barrier to its empty state; current waiters get BrokenBarrierError."""
        with self._cond:
            if self._arrived.get() == 0:
                self._phase.set(_FILLING)
            elif self._phase.get() in (_FILLING, _BROKEN):
                # The last waiter to leave puts the barrier back to filling.
                self._phase.set(_RESETTING)
            self._cond.notify_all()

    def abort(self) -> None:
        """Break the barrier: current and future waits raise BrokenBarrierError."""
        with self._cond:
            self._trip()

    def __repr__(self) -> str:
        where = f"{type(self).__module__}.{type(self).__qualname__} at {id(self):#x}"
        if self.broken:
            return f"<{where}: broken>"
        return f"<{where}: waiters={self.n_waiting}/{self.parties}>"


# The public home of every class, whichever module was imported first (the context's
# methods import this one directly).
for _cls in (SemLock, Semaphore, BoundedSemaphore, Lock, RLock, Condition, Event, Barrier):
    _cls.__module__ = "treadle.multiprocessing.synchronize"
del _cls
