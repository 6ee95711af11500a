"""The ``multiprocessing`` API over threads (``multiprocessing.dummy``).

``Process`` is a thread (with ``exitcode`` and the process-style ``active_children``),
``Pool`` a :class:`~treadle.multiprocessing.pool.ThreadPool`, ``Manager()`` this module
itself, ``Pipe`` a pair of connections over queues; the locks, events, barriers and
queues are treadle.threading's and treadle.queue's.
"""

from __future__ import annotations

import sys

from treadle.queue import Queue
from treadle.threading import (
    Barrier,
    BoundedSemaphore,
    Condition,
    Event,
    Lock,
    RLock,
    Semaphore,
)
from treadle.threading import current_thread as current_process

from .. import _native
from .._pool import Array, Namespace, ThreadPool, Value, dummy_active_children
from .._pool import DummyProcess as DummyProcess
from . import connection
from .connection import Pipe

# 3.14's public names (its __all__ leaves out Array, DummyProcess, Namespace, Value
# and shutdown, which it offers all the same).
__all__ = [
    "Array",
    "Barrier",
    "BoundedSemaphore",
    "Condition",
    "DummyProcess",
    "Event",
    "JoinableQueue",
    "Lock",
    "Manager",
    "Namespace",
    "Pipe",
    "Pool",
    "Process",
    "Queue",
    "RLock",
    "Semaphore",
    "Value",
    "active_children",
    "current_process",
    "freeze_support",
    "shutdown",
]

#: The stdlib's aliases: a dummy process is a thread, a joinable queue a plain queue.
Process = DummyProcess
JoinableQueue = Queue
active_children = dummy_active_children
dict = dict  # noqa: PLW0127 - the stdlib's dummy module offers them as attributes
list = list  # noqa: PLW0127


def freeze_support() -> None:
    """Do nothing (threads need no frozen-executable support)."""


def Manager() -> object:
    """Return this module: its types already are shared by every thread."""
    return sys.modules[__name__]


def shutdown() -> None:
    """Do nothing (there is no manager process to stop)."""


def Pool(
    processes: int | None = None, initializer: object = None, initargs: object = ()
) -> ThreadPool:
    """Return a :class:`~treadle.multiprocessing.pool.ThreadPool` of *processes* threads."""
    return ThreadPool(processes, initializer, initargs)  # type: ignore[arg-type]


_native.publish(globals())
connection = connection  # noqa: PLW0127 - the submodule, an attribute as in the stdlib
