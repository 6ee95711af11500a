"""treadle.threading: the Python 3.14 ``threading`` module on CPython 3.10 and later.

Threads, locks, conditions, semaphores, events, barriers and timers with the 3.14 API
and behaviour, built on ``treadle.thread_core``, and living beside the stdlib's
``threading`` in one process: each sees the other's threads, and the hooks tools
install on the stdlib's module (``settrace``, ``setprofile``, ``excepthook``) reach
treadle's threads too.
"""

from treadle import thread_core as _tc
from treadle.thread_core import support as _support

# _registry first: it imports _threads, which needs the registry's names.
from . import _exit, _fork, _registry, _sync
from ._hooks import (
    ExceptHookArgs,
    excepthook,
    getprofile,
    gettrace,
    setprofile,
    setprofile_all_threads,
    settrace,
    settrace_all_threads,
)
from ._registry import (
    active_count,
    activeCount,
    current_thread,
    currentThread,
    enumerate,
    main_thread,
)
from ._sync import (
    Barrier,
    BoundedSemaphore,
    BrokenBarrierError,
    Condition,
    Event,
    Lock,
    RLock,
    Semaphore,
)
from ._threads import DummyThread as _DummyThread
from ._threads import MainThread as _MainThread
from ._threads import Thread
from ._timer import Timer

TIMEOUT_MAX = _tc.TIMEOUT_MAX
get_ident = _tc.get_ident
get_native_id = _tc.get_native_id
stack_size = _tc.stack_size
local = _tc.local
__excepthook__ = excepthook
ThreadError = RuntimeError

# Private names that programs and CPython's own tests use.
_active = _registry.active
_limbo = _registry.limbo
_dangling = _registry.dangling
_counter = _registry.counter
_shutdown_locks = _registry.shutdown_locks
_shutdown = _exit.shutdown
_register_atexit = _exit.register_atexit
_after_fork = _fork.after_fork
_CRLock = _sync._CRLock
_PyRLock = _sync.PyRLock
_start_joinable_thread = _tc.start_joinable_thread
_start_new_thread = _tc.start_new_thread
_allocate_lock = _tc.allocate_lock


def __getattr__(name: str) -> object:
    if name == "_main_thread":
        return main_thread()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "TIMEOUT_MAX",
    "Barrier",
    "BoundedSemaphore",
    "BrokenBarrierError",
    "Condition",
    "Event",
    "ExceptHookArgs",
    "Lock",
    "RLock",
    "Semaphore",
    "Thread",
    "ThreadError",
    "Timer",
    "activeCount",
    "active_count",
    "currentThread",
    "current_thread",
    "enumerate",
    "excepthook",
    "get_ident",
    "get_native_id",
    "getprofile",
    "gettrace",
    "local",
    "main_thread",
    "setprofile",
    "setprofile_all_threads",
    "settrace",
    "settrace_all_threads",
    "stack_size",
]

_support.publish(globals())
# Reprs show the stdlib's names for these private classes.
_PyRLock.__module__ = __name__
_PyRLock.__name__ = _PyRLock.__qualname__ = "_RLock"
_MainThread.__name__ = _MainThread.__qualname__ = "_MainThread"
_DummyThread.__name__ = _DummyThread.__qualname__ = "_DummyThread"
