"""Which threads exist: the registry and the functions that read it.

``active`` maps the ident of every running thread this module knows to its Thread;
``limbo`` holds the threads whose ``start()`` is under way. Both are guarded by
``lock`` (replaced in a forked child, so always read it as ``_registry.lock``).
``enumerate()`` and ``current_thread()`` also see the threads the stdlib's
``threading`` started, as the stdlib's own objects.

State here is module globals, set with ``global`` inside this module and as
``_registry.<name> = ...`` from the shutdown and fork modules.
"""

from __future__ import annotations

import itertools
import sys
import threading as _std
import warnings
import weakref
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

from treadle import thread_core
from treadle.thread_core import runtime

if TYPE_CHECKING:
    from ._threads import Thread

__all__ = [
    "active",
    "activeCount",
    "active_count",
    "counter",
    "currentThread",
    "current_thread",
    "dangling",
    "enumerate",
    "limbo",
    "lock",
    "main_thread",
    "public",
    "shutdown_locks",
]

_get_ident = thread_core.get_ident

active: dict[int, Thread] = {}
"""ident -> Thread, for every running thread this module knows (the stdlib's ``_active``)."""
limbo: dict[Thread, Thread] = {}
"""Threads whose ``start()`` is under way."""
dangling: weakref.WeakSet[Thread] = weakref.WeakSet()
"""Every Thread object still alive (CPython's test helpers count them)."""
lock = thread_core.allocate_lock()
"""Guards ``active`` and ``limbo``."""
main: Thread = cast("Thread", None)
"""The main thread's object (set when ``_threads`` is imported, and in a forked child)."""

counter = itertools.count(1).__next__
"""Numbers for default thread names (read through the public module: tests patch it)."""

_public: ModuleType | None = None


def public() -> Any:
    """Return the public ``treadle.threading`` module, where patched names are read.

    Programs and CPython's tests replace ``_counter``, ``excepthook`` or
    ``_start_joinable_thread`` there, as they would on ``threading``.
    """
    global _public
    if _public is None:
        _public = sys.modules[__name__.rpartition(".")[0]]
    return _public


def _live() -> list[Thread]:
    with lock:
        return [*active.values(), *limbo]


class _ShutdownLocks:
    """A live view: the ``_tstate_lock`` of every running non-daemon Thread (<= 3.12).

    Code written for 3.12 and earlier looks there; treadle's shutdown joins handles.
    """

    def _locks(self) -> list[Any]:
        found = (t._tstate_lock for t in _live() if not t._daemonic)
        return [held for held in found if held is not None]

    def __contains__(self, item: object) -> bool:
        return any(held is item for held in self._locks())

    def __iter__(self) -> Any:
        return iter(self._locks())

    def __len__(self) -> int:
        return len(self._locks())


shutdown_locks = _ShutdownLocks()


def current_thread() -> Thread | _std.Thread:
    """Return the Thread object of the calling thread.

    A thread the stdlib's ``threading`` started is returned as the stdlib's object
    (which offers the same attributes, hence the union in the return type); a thread
    nobody registered gets a dummy Thread, alive and daemonic, that cannot be joined.
    """
    me = _get_ident()
    try:
        return active[me]
    except KeyError:
        pass
    theirs = runtime.stdlib_thread_for(me)
    if theirs is None:
        return _threads.DummyThread()
    owner = runtime.owner_of(theirs)
    return theirs if owner is None else cast("Thread", owner)


def _renamed(old: str, new: str) -> None:
    # Warn the caller of a deprecated alias (stacklevel: the alias, then its caller).
    warnings.warn(f"{old}() is deprecated, use {new}() instead", DeprecationWarning, stacklevel=3)


def currentThread() -> Thread | _std.Thread:
    """Return :func:`current_thread` (deprecated alias)."""
    _renamed("currentThread", "current_thread")
    return current_thread()


def enumerate() -> list[Thread | _std.Thread]:
    """Return every live thread: those started here and those the stdlib knows.

    The stdlib's threads are its own objects, hence the union in the return type.

    Threads whose ``start()`` is under way are included; finished ones are not.
    """
    seen = set(active)
    found: list[Thread | _std.Thread] = list(_live())
    found.extend(t for t in runtime.stdlib_threads() if t.ident not in seen)
    return found


def active_count() -> int:
    """Return the number of live threads (the length of :func:`enumerate`)."""
    return len(enumerate())


def activeCount() -> int:
    """Return :func:`active_count` (deprecated alias)."""
    _renamed("activeCount", "active_count")
    return active_count()


def main_thread() -> Thread:
    """Return the main Thread object: the thread the interpreter started with."""
    return main


from . import _threads  # noqa: E402  (Thread needs the registry above; dummies are made here)
