"""The lock types: the interpreter's primitives, given their 3.14 surface everywhere.

A lock is the one synchronisation primitive Python code cannot build, so
``allocate_lock()`` returns the interpreter's own lock, unchanged: it costs nothing
extra and works wherever the stdlib expects its lock (a stdlib ``Condition`` included).
What differs between versions is only around it:

* 3.13 made the lock type callable (``_thread.lock()``); before, only
  ``allocate_lock()`` could make one. ``lock`` here is callable on every version and
  ``isinstance(x, lock)`` is true exactly for the interpreter's locks.
* 3.14 added ``RLock.locked()``. Before 3.14, ``RLock`` is a thin subclass of the
  interpreter's re-entrant lock that adds it; acquire and release stay the C methods.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ._native import LockType, NativeRLock, allocate_lock

__all__ = ["RLock", "lock"]

if TYPE_CHECKING or sys.version_info >= (3, 13):
    # Since 3.13 the interpreter's lock type can be instantiated directly.
    lock = LockType
else:

    class _LockMeta(type):
        def __call__(cls) -> LockType:
            return allocate_lock()

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, LockType)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, LockType)

    class lock(metaclass=_LockMeta):
        """The type of lock objects: ``lock()`` makes a new, unlocked one.

        Before 3.13 the interpreter's lock type cannot be called, so this stands in for
        it: calling it returns ``allocate_lock()``, and ``isinstance(x, lock)`` is true
        for the interpreter's locks.
        """

        __slots__ = ()

    lock.__module__ = "treadle.thread_core"


if sys.version_info >= (3, 14):
    RLock = NativeRLock
else:

    class RLock(NativeRLock):  # type: ignore[misc,valid-type,unused-ignore]
        """A re-entrant lock: the owning thread may acquire it again.

        It is released for other threads when it has been released as many times as
        it was acquired.
        """

        __slots__ = ()

        def locked(self) -> bool:
            """Return whether any thread holds the lock (3.14)."""
            if self._is_owned():  # type: ignore[attr-defined]
                return True
            # Not ours: probing with a non-blocking acquire cannot wait, and if it
            # succeeds nobody else held it.
            if self.acquire(False):
                self.release()
                return False
            return True

        def __reduce__(self) -> Any:
            raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    RLock.__module__ = "treadle.thread_core"
    RLock.__qualname__ = "RLock"
