"""The one place where treadle.thread_core touches the interpreter and its internals.

Everything that cannot be written in Python (starting an OS thread, the lock, the
re-entrant lock, thread-local storage, the thread identifiers) comes from the
interpreter's ``_thread`` module here; so does every private name of the stdlib's
``threading`` that treadle needs to share a process with it (its registry of threads,
its exit step, its dummy-thread class), and so does every difference between Python
versions. No other module of the package tests ``sys.version_info`` or names a private
stdlib object: they build on the names below, which mean the same on every version.

Where a version lacks something 3.14 has, the stand-in is chosen here: small ones are
written here, larger ones live in their own module (``_handles``, ``_osname``) and are
imported only on the versions that need them.
"""

from __future__ import annotations

import _thread
import struct
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runtime import ThreadOwner

__all__ = [
    "HAS_NATIVE_HANDLES",
    "INTERPRETER_AUDITS_NEW_THREAD",
    "NAME_MAXLEN",
    "TIMEOUT_MAX",
    "LockType",
    "NativeLocal",
    "PythonFinalizationError",
    "RLock",
    "StdlibView",
    "ThreadHandle",
    "allocate_lock",
    "birth_stderr",
    "daemon_threads_allowed",
    "get_ident",
    "get_name",
    "get_native_id",
    "handles_after_fork",
    "is_main_interpreter",
    "join_non_daemon_threads",
    "lock",
    "main_thread_ident",
    "native_count",
    "native_interrupt_main",
    "native_stack_size",
    "native_start",
    "set_name",
    "stack_size_minimum",
    "start_bootstrap",
    "start_on_handle",
    "stdlib_lookup",
    "stdlib_publish",
    "stdlib_register_atexit",
    "stdlib_shutdown",
    "stdlib_unpublish",
]

# ----------------------------------------------------------------- the primitives
# The interpreter's own objects, used as they are.

allocate_lock = _thread.allocate_lock
LockType = _thread.LockType
get_ident = _thread.get_ident
get_native_id = _thread.get_native_id
TIMEOUT_MAX: float = _thread.TIMEOUT_MAX
native_count = _thread._count
native_interrupt_main = _thread.interrupt_main
native_stack_size = _thread.stack_size
# Thread-local storage at the interpreter's speed: each thread's values live in that
# thread's state and die with it.
NativeLocal = _thread._local


def stack_size_minimum() -> int:
    """Return the smallest stack size 3.14 accepts for a new thread.

    3.14 reserves a safety margin for its stack-overflow checks on top of the 32 KiB
    floor of earlier versions: 2048 pointers plus one guard page. Applying the same
    bound on every version keeps ``stack_size()`` behaving as 3.14 does.
    """
    return 0x8000 + 2048 * struct.calcsize("P") + 4096


# --------------------------------------------------------- the stdlib's threading
# Its registry of live threads, its exit step and its dummy-thread class. Each name is
# looked up at each use, as the stdlib's own code does: it replaces the registry lock in
# a forked child, and tools may wrap its exit step.


def stdlib_register_atexit(callback: Callable[[], object]) -> None:
    """Have the stdlib's exit step run *callback* (last registered, first run)."""
    threading._register_atexit(callback)  # type: ignore[attr-defined]


def stdlib_shutdown() -> None:
    """Run the stdlib's exit step for threads."""
    threading._shutdown()  # type: ignore[attr-defined]


def stdlib_publish(ident: int, thread: threading.Thread) -> None:
    """Enter *thread* in the stdlib's registry of live threads as thread *ident*."""
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        threading._active[ident] = thread  # type: ignore[attr-defined]


def stdlib_unpublish(ident: int, kind: type[threading.Thread]) -> None:
    """Remove thread *ident* from the stdlib's registry if its entry is a *kind*."""
    with threading._active_limbo_lock:  # type: ignore[attr-defined]
        registry: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
        if isinstance(registry.get(ident), kind):
            del registry[ident]


def stdlib_lookup(ident: int) -> threading.Thread | None:
    """Return the stdlib's entry for the live thread *ident*, or None."""
    registry: dict[int, threading.Thread] = threading._active  # type: ignore[attr-defined]
    return registry.get(ident)


def birth_stderr(thread: object) -> Any:
    """Return the ``sys.stderr`` a stdlib thread object kept from its creation, or None.

    The stdlib's threads keep it for reporting an exception after a program has set
    ``sys.stderr`` to None.
    """
    return getattr(thread, "_stderr", None)


class StdlibView(threading._DummyThread):
    """How a thread published by treadle appears to the stdlib's ``threading``.

    It is an instance of the stdlib's thread class, for code that checks, but it is never
    initialised as one: building a stdlib thread (its Event, its Condition, its handle)
    would cost more than starting the OS thread. It carries only what the stdlib reads
    from the threads in its registry (the identifiers and, in a forked child, what its
    own exit step touches), and everything else comes from its owner.
    """

    _treadle_owner: ThreadOwner
    _native_id: int
    _initialized: bool

    @classmethod
    def of(cls, owner: ThreadOwner, ident: int, native_id: int) -> StdlibView:
        """Return a stand-in for *owner*, running as thread *ident*."""
        view = object.__new__(cls)
        view._treadle_owner = owner
        view._ident = ident
        view._native_id = native_id
        view._initialized = True  # the stdlib's properties (ident, ...) check this first
        return view

    @property
    def name(self) -> str:
        return self._treadle_owner.name

    @name.setter
    def name(self, value: str) -> None:
        self._treadle_owner.name = value

    @property
    def daemon(self) -> bool:
        return self._treadle_owner.daemon

    @daemon.setter
    def daemon(self, value: bool) -> None:
        self._treadle_owner.daemon = value

    def is_alive(self) -> bool:
        return self._treadle_owner.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._treadle_owner.join(timeout)

    def __repr__(self) -> str:
        return repr(self._treadle_owner)

    # The stdlib's fork hook calls these on every registered thread: 3.10-3.12 the first
    # two, 3.13+ the third. The owner resets itself through runtime.after_fork_in_child.
    def _reset_internal_locks(self, is_alive: bool) -> None:
        if is_alive:
            self._become_main(get_ident())

    def _stop(self) -> None:
        self._is_stopped = True

    def _after_fork(self, new_ident: int | None = None) -> None:
        if new_ident is not None:
            self._become_main(new_ident)

    def _become_main(self, ident: int) -> None:
        # This thread forked: in the child the stdlib takes it for its main thread, and
        # its exit step will mark that thread finished, through these attributes.
        self._ident = ident
        if sys.version_info >= (3, 13):
            handle = _thread._make_thread_handle(ident)  # type: ignore[attr-defined]
            self._handle = self._os_thread_handle = handle
        else:
            sentinel = allocate_lock()
            sentinel.acquire()
            self._tstate_lock = sentinel
            self._is_stopped = False


# ------------------------------------------------------------ version differences

# Before 3.13: a lock the interpreter releases when the calling thread's state dies.
set_sentinel: Callable[[], LockType]

if sys.version_info >= (3, 12):
    daemon_threads_allowed = _thread.daemon_threads_allowed
    is_main_interpreter = _thread._is_main_interpreter  # type: ignore[attr-defined]
    # The interpreter raises the _thread.start_new_thread audit event itself.
    INTERPRETER_AUDITS_NEW_THREAD = True
else:
    INTERPRETER_AUDITS_NEW_THREAD = False

    def daemon_threads_allowed() -> bool:
        """Return whether this interpreter allows daemon threads: always, before 3.12."""
        return True

    def is_main_interpreter() -> bool:
        """Before 3.12 ``threading`` could only be used fully in the main interpreter."""
        return True


if sys.version_info >= (3, 13):
    from builtins import PythonFinalizationError

    # Joinable thread handles: join() waits for the OS thread itself, and non-daemon
    # handles are joined by the interpreter at exit, when the stdlib joins its threads.
    # Starting one raises the audit event and refuses during finalization by itself.
    HAS_NATIVE_HANDLES = True
    ThreadHandle = _thread._ThreadHandle
    start_on_handle = _thread.start_joinable_thread
    start_bootstrap = _thread.start_joinable_thread
    join_non_daemon_threads: Callable[[], None] = _thread._shutdown  # type: ignore[attr-defined]
    main_thread_ident: Callable[[], int] = _thread._get_main_thread_ident  # type: ignore[attr-defined]
    native_start = _thread.start_new_thread

    def handles_after_fork() -> None:
        """Do nothing: the interpreter marks the vanished threads' handles done."""

else:

    class PythonFinalizationError(RuntimeError):
        """Raised when an operation is blocked by the interpreter's finalization.

        Python 3.13 added this built-in exception; on older versions treadle raises
        this subclass of :exc:`RuntimeError`, which is what those versions raise.
        """

    HAS_NATIVE_HANDLES = False
    set_sentinel = _thread._set_sentinel  # type: ignore[attr-defined,unused-ignore]

    def native_start(function: Callable[..., object], args: tuple[Any, ...] = (), /) -> int:
        """Start an OS thread running ``function(*args)``; return its identifier.

        These versions refuse a new thread during finalization with a plain
        :exc:`RuntimeError`; 3.14 raises :exc:`PythonFinalizationError`.
        """
        try:
            return _thread.start_new_thread(function, args)
        except RuntimeError as exc:
            if sys.is_finalizing():
                raise PythonFinalizationError(str(exc)) from None
            raise

    def main_thread_ident() -> int:
        """Return the ident of the main thread of the main interpreter."""
        return threading.main_thread().ident or 0

    # Thread handles written in Python, on the lock the interpreter releases when a
    # thread's state dies. They need the names above.
    from ._handles import (
        ThreadHandle,
        handles_after_fork,
        join_non_daemon_threads,
        start_bootstrap,
        start_on_handle,
    )


if TYPE_CHECKING or sys.version_info >= (3, 13):
    # The lock type can be called to make a lock.
    lock = LockType
else:

    class _CallableLockType(type):
        # What makes ``lock()`` and ``isinstance(x, lock)`` work before 3.13.
        def __call__(cls) -> LockType:
            return allocate_lock()

        def __instancecheck__(cls, obj: object) -> bool:
            return isinstance(obj, LockType)

        def __subclasscheck__(cls, sub: type) -> bool:
            return issubclass(sub, LockType)

    class lock(metaclass=_CallableLockType):
        """The type of lock objects: ``lock()`` makes a new, unlocked one.

        Before 3.13 the interpreter's lock type cannot be called, so this stands in for
        it: calling it returns ``allocate_lock()``, and ``isinstance(x, lock)`` is true
        for the interpreter's locks.
        """

        __slots__ = ()


if sys.version_info >= (3, 14):
    RLock = _thread.RLock
    NAME_MAXLEN: int | None = _thread._NAME_MAXLEN  # type: ignore[attr-defined]
    set_name: Callable[[str], None] | None = getattr(_thread, "set_name", None)
    get_name: Callable[[], str | None] = _thread._get_name  # type: ignore[attr-defined]
else:

    class RLock(_thread.RLock):  # type: ignore[misc,valid-type,unused-ignore]
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

    # Naming OS threads, through the C library.
    from . import _osname

    NAME_MAXLEN = _osname.NAME_MAXLEN
    set_name = getattr(_osname, "set_name", None)
    get_name = _osname.get_name
