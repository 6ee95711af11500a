"""treadle.threading: the Python 3.14 ``threading`` module on CPython 3.10 and later.

Threads, locks, conditions, semaphores, events, barriers and timers with the 3.14 API
and behaviour, built on ``treadle.thread_core``, and living beside the stdlib's
``threading`` in one process (each sees the other's threads).
"""

from treadle import thread_core as _tc

from . import _sync, _threads
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
from ._threads import (
    Thread,
    Timer,
    active_count,
    current_thread,
    enumerate,
    getprofile,
    gettrace,
    main_thread,
    setprofile,
    setprofile_all_threads,
    settrace,
    settrace_all_threads,
)
from ._threads import (
    activeCount as activeCount,
)
from ._threads import (
    currentThread as currentThread,
)

TIMEOUT_MAX = _tc.TIMEOUT_MAX
get_ident = _tc.get_ident
get_native_id = _tc.get_native_id
stack_size = _tc.stack_size
local = _tc.local
ExceptHookArgs = _tc._ExceptHookArgs
excepthook = _tc._excepthook
__excepthook__ = excepthook
ThreadError = RuntimeError

# Private names that programs and CPython's own tests use.
_active = _threads.active
_limbo = _threads.limbo
_dangling = _threads.dangling
_counter = _threads.counter
_shutdown = _threads.shutdown
_shutdown_locks = _threads.shutdown_locks
_register_atexit = _threads.register_atexit
_after_fork = _threads.after_fork
_MainThread = _threads.MainThread
_DummyThread = _threads.DummyThread
_CRLock = _sync._CRLock
_PyRLock = _sync.PyRLock
_start_joinable_thread = _tc.start_joinable_thread
_start_new_thread = _tc.start_new_thread
_allocate_lock = _tc.allocate_lock


def __getattr__(name: str) -> object:
    if name == "_main_thread":
        return _threads.main_thread()
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
    "active_count",
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

for _obj in (
    Barrier,
    BoundedSemaphore,
    BrokenBarrierError,
    Condition,
    Event,
    Semaphore,
    Thread,
    Timer,
    RLock,
    _PyRLock,
    _MainThread,
    _DummyThread,
    active_count,
    activeCount,
    current_thread,
    currentThread,
    enumerate,
    getprofile,
    gettrace,
    main_thread,
    setprofile,
    setprofile_all_threads,
    settrace,
    settrace_all_threads,
    _shutdown,
    _register_atexit,
    _after_fork,
):
    _obj.__module__ = __name__
del _obj
_PyRLock.__name__ = _PyRLock.__qualname__ = "_PyRLock"
_MainThread.__name__ = _MainThread.__qualname__ = "_MainThread"
_DummyThread.__name__ = _DummyThread.__qualname__ = "_DummyThread"
