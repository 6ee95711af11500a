"""treadle.thread_core: the Python 3.14 ``_thread`` API on CPython 3.10 and later.

Low-level threading: starting threads, joinable thread handles, locks, thread-local
data, OS thread names. Most programs want ``treadle.threading``, which is built on this.
How other treadle packages share interpreter state with the stdlib's ``threading`` is
in :mod:`treadle.thread_core.runtime`.
"""

from . import _excepthook as _eh
from . import _native, runtime, support
from ._local import local
from ._misc import exit, interrupt_main, stack_size
from ._native import (
    TIMEOUT_MAX,
    LockType,
    PythonFinalizationError,
    RLock,
    allocate_lock,
    daemon_threads_allowed,
    get_ident,
    get_native_id,
    lock,
)
from ._threads import start_joinable_thread, start_new_thread

# Private names of the stdlib's _thread that programs and CPython's own tests use.
_ExceptHookArgs = _eh.ExceptHookArgs
_excepthook = _eh.excepthook
_is_main_interpreter = _native.is_main_interpreter
_get_main_thread_ident = _native.main_thread_ident
_NAME_MAXLEN = _native.NAME_MAXLEN
_get_name = _native.get_name
_set_name = _native.set_name
_ThreadHandle = _native.ThreadHandle
_count = _native.native_count
_shutdown = _native.join_non_daemon_threads
_local = local

error = RuntimeError
"""The exception ``_thread`` raises: since Python 3.3, :exc:`RuntimeError` itself."""

allocate = allocate_lock
start_new = start_new_thread
exit_thread = exit

if _set_name is not None:
    set_name = _set_name

__all__ = [
    "TIMEOUT_MAX",
    "LockType",
    "PythonFinalizationError",
    "RLock",
    "allocate",
    "allocate_lock",
    "daemon_threads_allowed",
    "error",
    "exit",
    "exit_thread",
    "get_ident",
    "get_native_id",
    "interrupt_main",
    "local",
    "lock",
    "runtime",
    "stack_size",
    "start_joinable_thread",
    "start_new",
    "start_new_thread",
    "support",
]
if _set_name is not None:
    __all__ += ["set_name"]

support.publish(globals())
