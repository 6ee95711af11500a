"""The Python 3.14 ``multiprocessing`` API on CPython 3.10 and later (POSIX).

Processes and start methods (``forkserver`` is the default on Linux on every Python, as
in 3.14), connections and reduction; locks, queues, shared ctypes and shared memory;
managers, ``Pool`` and ``multiprocessing.dummy``. The module-level functions are those of
the default context (:func:`get_context` gives the others).

Beyond the stdlib (opt-in or error-only): a process object that cannot be pickled for a
spawn or forkserver child is reported at ``start()`` with the path of the culprit
(``args[1].callback: <lambda> is not picklable``); the ``fork`` method warns, naming
them, when other threads run; ``Process.kill_tree()`` ends a process and every
descendant.

Importing this package is cheap (every spawned child does): connections, the reducer
and the helpers' modules are imported when first used.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.

from __future__ import annotations

import sys as _sys

from . import context, process  # noqa: F401 - the stdlib's submodule attributes
from ._context import _default_context

# The classes themselves (not attributes read off the context) so that type checkers
# take multiprocessing.Process as a class; they are the default context's.
from .context import AuthenticationError, BufferTooShort, Process, ProcessError, TimeoutError

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any as _Any

__all__ = [
    "Array",
    "AuthenticationError",
    "Barrier",
    "BoundedSemaphore",
    "BufferTooShort",
    "Condition",
    "Event",
    "JoinableQueue",
    "Lock",
    "Manager",
    "Pipe",
    "Pool",
    "Process",
    "ProcessError",
    "Queue",
    "RLock",
    "RawArray",
    "RawValue",
    "Semaphore",
    "SimpleQueue",
    "TimeoutError",
    "Value",
    "active_children",
    "allow_connection_pickling",
    "cpu_count",
    "current_process",
    "freeze_support",
    "get_all_start_methods",
    "get_context",
    "get_logger",
    "get_start_method",
    "log_to_stderr",
    "parent_process",
    "reducer",
    "set_executable",
    "set_forkserver_preload",
    "set_start_method",
]

# As in the stdlib, the module's functions are the default context's bound methods (the
# objects of parts 2 and 3 import their modules when first called). Unpacked by concern,
# so that type checkers see each name's own signature.
_c = _default_context
Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore = (
    _c.Barrier, _c.BoundedSemaphore, _c.Condition, _c.Event, _c.Lock, _c.RLock, _c.Semaphore
)  # fmt: skip
JoinableQueue, Pipe, Queue, SimpleQueue = (_c.JoinableQueue, _c.Pipe, _c.Queue, _c.SimpleQueue)
Array, RawArray, RawValue, Value = (_c.Array, _c.RawArray, _c.RawValue, _c.Value)
Manager, Pool = (_c.Manager, _c.Pool)
active_children, current_process, parent_process, cpu_count = (
    _c.active_children, _c.current_process, _c.parent_process, _c.cpu_count
)  # fmt: skip
freeze_support, set_executable, allow_connection_pickling = (
    _c.freeze_support, _c.set_executable, _c.allow_connection_pickling
)  # fmt: skip
get_context, get_all_start_methods, get_start_method, set_start_method = (
    _c.get_context, _c.get_all_start_methods, _c.get_start_method, _c.set_start_method
)  # fmt: skip
set_forkserver_preload = _c.set_forkserver_preload
get_logger, log_to_stderr = (_c.get_logger, _c.log_to_stderr)
del _c

# `reducer` is the reduction module, as in the stdlib, but imported on first use (it pulls
# in socket and pickle, which a spawned child may not need): see __getattr__ below.
if TYPE_CHECKING:
    from . import reduction as reducer

del TYPE_CHECKING  # not a public name of the module (CPython's test__all__ checks)

# The stdlib's logging levels of its own, also at the top level.
SUBDEBUG = 5
SUBWARNING = 25

# A child re-imports the parent's main module as __mp_main__: the same name maps to the
# main module here, so that objects pickled by either name resolve in both.
if "__main__" in _sys.modules:
    _sys.modules["__mp_main__"] = _sys.modules["__main__"]


def __getattr__(name: str) -> _Any:
    # `reducer` is the reduction module (the stdlib binds it at import): imported on
    # first use here, since it pulls in socket and pickle.
    if name == "reducer":
        return _default_context.reducer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
