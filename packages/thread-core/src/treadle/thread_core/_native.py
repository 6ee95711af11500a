"""The one place where treadle.thread_core touches the interpreter.

Everything that cannot be written in Python (starting an OS thread, the lock, the
re-entrant lock, the thread identifiers, the per-thread death notification) comes from
the interpreter's ``_thread`` module here, and so do the differences between Python
versions. The rest of the package is written in Python on top of these names.
"""

from __future__ import annotations

import _thread
import struct
import sys

__all__ = [
    "HAS_NATIVE_HANDLES",
    "TIMEOUT_MAX",
    "LockType",
    "NativeRLock",
    "PythonFinalizationError",
    "allocate_lock",
    "daemon_threads_allowed",
    "get_ident",
    "get_native_id",
    "is_main_interpreter",
    "main_thread_ident",
    "native_count",
    "native_death_store",
    "native_interrupt_main",
    "native_stack_size",
    "native_start",
    "stack_size_minimum",
]

# The primitives themselves: these are the interpreter's objects, used as they are.
allocate_lock = _thread.allocate_lock
LockType = _thread.LockType
NativeRLock = _thread.RLock
get_ident = _thread.get_ident
get_native_id = _thread.get_native_id
TIMEOUT_MAX: float = _thread.TIMEOUT_MAX
native_start = _thread.start_new_thread
native_count = _thread._count
native_interrupt_main = _thread.interrupt_main
native_stack_size = _thread.stack_size


def native_death_store() -> _thread._local:
    """Return a C thread-local whose per-thread values die with their thread.

    Python code cannot observe the end of an OS thread it did not start; the
    interpreter's thread-local storage can, because it drops each thread's values when
    that thread's state is cleared. treadle's own ``local`` uses one of these only as a
    death notification: the thread-local semantics themselves are written in Python.
    """
    return _thread._local()


if sys.version_info >= (3, 13):
    # Python 3.13 added joinable thread handles to the interpreter: a handle's join()
    # waits for the OS thread itself, and non-daemon handles are joined by the
    # interpreter at exit, exactly when the stdlib joins its own threads.
    HAS_NATIVE_HANDLES = True
    native_start_joinable = _thread.start_joinable_thread
    NativeThreadHandle = _thread._ThreadHandle
    main_thread_ident = _thread._get_main_thread_ident  # type: ignore[attr-defined]
    from builtins import PythonFinalizationError

else:
    HAS_NATIVE_HANDLES = False

    class PythonFinalizationError(RuntimeError):
        """Raised when an operation is blocked by the interpreter's finalization.

        Python 3.13 added this built-in exception; on older versions treadle raises
        this subclass of :exc:`RuntimeError`, which is what those versions raise.
        """

    PythonFinalizationError.__module__ = "treadle.thread_core"

    def set_sentinel() -> LockType:
        """Return a lock that the interpreter releases when this thread's state dies.

        Before 3.13 this is how the stdlib knows a thread has really finished.
        """
        return _thread._set_sentinel()  # type: ignore[attr-defined,no-any-return,unused-ignore]

    def main_thread_ident() -> int:
        """Return the ident of the main thread of the main interpreter."""
        import threading  # noqa: PLC0415  (stdlib; only asked for here)

        return threading.main_thread().ident or 0


if sys.version_info >= (3, 12):
    daemon_threads_allowed = _thread.daemon_threads_allowed
    is_main_interpreter = _thread._is_main_interpreter  # type: ignore[attr-defined]
else:

    def daemon_threads_allowed() -> bool:
        """Before 3.12 every interpreter allowed daemon threads."""
        return True

    def is_main_interpreter() -> bool:
        """Before 3.12 ``threading`` could only be used fully in the main interpreter."""
        return True


def stack_size_minimum() -> int:
    """Return the smallest stack size 3.14 accepts for a new thread.

    3.14 reserves a safety margin for its stack-overflow checks on top of the 32 KiB
    floor of earlier versions: 2048 pointers plus one guard page. Applying the same
    bound on every version keeps ``stack_size()`` behaving as 3.14 does.
    """
    return 0x8000 + 2048 * struct.calcsize("P") + 4096
