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

# As in the stdlib: the names are the default context's attributes and bound methods.
# The objects of parts 2 and 3 (locks, queues, shared values, Manager, Pool) import their
# modules when first called.
Array = _default_context.Array
Barrier = _default_context.Barrier
BoundedSemaphore = _default_context.BoundedSemaphore
Condition = _default_context.Condition
Event = _default_context.Event
JoinableQueue = _default_context.JoinableQueue
Lock = _default_context.Lock
Manager = _default_context.Manager
Pipe = _default_context.Pipe
Pool = _default_context.Pool
Queue = _default_context.Queue
RLock = _default_context.RLock
RawArray = _default_context.RawArray
RawValue = _default_context.RawValue
Semaphore = _default_context.Semaphore
SimpleQueue = _default_context.SimpleQueue
Value = _default_context.Value
active_children = _default_context.active_children
allow_connection_pickling = _default_context.allow_connection_pickling
cpu_count = _default_context.cpu_count
current_process = _default_context.current_process
freeze_support = _default_context.freeze_support
get_all_start_methods = _default_context.get_all_start_methods
get_context = _default_context.get_context
get_logger = _default_context.get_logger
get_start_method = _default_context.get_start_method
log_to_stderr = _default_context.log_to_stderr
parent_process = _default_context.parent_process
set_executable = _default_context.set_executable
set_forkserver_preload = _default_context.set_forkserver_preload
set_start_method = _default_context.set_start_method

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
