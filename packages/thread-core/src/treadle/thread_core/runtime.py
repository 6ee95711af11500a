"""How other treadle packages live beside the stdlib's ``threading`` in one process.

This module is the documented interface between ``treadle.thread_core`` (the only
treadle package that touches the interpreter's private threading machinery) and the
packages built on it, ``treadle.threading`` first. It offers three things:

**Exit.** :func:`at_thread_join` registers a callable that runs when the interpreter
exits, at the moment the stdlib's ``threading`` joins its non-daemon threads: after the
main module finishes, before any :mod:`atexit` handler. Callables run in reverse order
of registration (the stdlib's ``concurrent.futures`` stops its workers the same way).
Non-daemon threads started with ``start_joinable_thread(daemon=False)`` are waited for
at that moment too, on every Python version.

**Visibility.** :func:`publish_current_thread` makes the calling thread visible to the
stdlib as the given thread object: ``threading.current_thread()`` and
``threading.enumerate()`` return a stand-in whose ``name``, ``daemon``, ``is_alive()``
and ``join()`` are the owner's (so logging's ``threadName`` is the owner's name).
:func:`unpublish_current_thread` takes it back, before the thread ends.
:func:`stdlib_threads` lists the threads the stdlib knows of that nobody published
here (its own threads, the main thread, dummies), for a treadle ``enumerate()``.

**Fork.** :func:`after_fork_in_child` registers a callable that runs in the child
after ``os.fork()``, after treadle.thread_core has made its own state consistent (in the
child only the forking thread is alive, and the handles of the other threads are done).
"""

from __future__ import annotations

import os
import threading as _std
from collections.abc import Callable
from typing import Protocol

from . import _threads
from ._native import get_ident, is_main_interpreter

__all__ = [
    "ThreadOwner",
    "after_fork_in_child",
    "at_thread_join",
    "owner_of",
    "publish_current_thread",
    "stdlib_threads",
    "unpublish_current_thread",
]


class ThreadOwner(Protocol):
    """What a published thread object must offer the stdlib's view of it."""

    name: str
    daemon: bool

    def is_alive(self) -> bool:
        """Whether the thread is running."""

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread to end."""


# ------------------------------------------------------------------------------ exit


def at_thread_join(callback: Callable[[], object]) -> None:
    """Run *callback* at exit when the stdlib joins its threads, before atexit.

    Raises RuntimeError once the interpreter's shutdown has begun.
    """
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    _std._register_atexit(callback)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ visibility


class _StdlibView(_std._DummyThread):
    """How a thread published by treadle appears to the stdlib's ``threading``."""

    def __init__(self, owner: ThreadOwner) -> None:
        self._treadle_owner = owner
        super().__init__()

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


def publish_current_thread(owner: ThreadOwner) -> None:
    """Show the calling thread to the stdlib's ``threading`` as *owner*."""
    _StdlibView(owner)


def unpublish_current_thread() -> None:
    """Remove the calling thread's stand-in from the stdlib's registry."""
    ident = get_ident()
    with _std._active_limbo_lock:  # type: ignore[attr-defined]
        view = _std._active.get(ident)  # type: ignore[attr-defined]
        if isinstance(view, _StdlibView):
            del _std._active[ident]  # type: ignore[attr-defined]


def stdlib_threads() -> list[_std.Thread]:
    """Return the stdlib's live threads, less the stand-ins of published threads."""
    return [t for t in _std.enumerate() if not isinstance(t, _StdlibView)]


def owner_of(thread: object) -> ThreadOwner | None:
    """Return the treadle thread a stdlib thread object stands for, or None."""
    if isinstance(thread, _StdlibView):
        owner: ThreadOwner = thread._treadle_owner
        return owner
    return None


# ------------------------------------------------------------------------------ fork

_fork_callbacks: list[Callable[[], object]] = []


def after_fork_in_child(callback: Callable[[], object]) -> None:
    """Run *callback* in the child after ``os.fork()``, after thread-core's own reset."""
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    _fork_callbacks.append(callback)


def _in_child() -> None:
    _threads.after_fork_in_child()
    for callback in list(_fork_callbacks):
        callback()


def _install() -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_child)
    if is_main_interpreter():
        # Before 3.13 the interpreter does not know treadle's non-daemon handles: join
        # them from the stdlib's thread-join step. Registered first, so it runs after
        # every callback registered later (they may still need the threads running).
        import sys  # noqa: PLC0415

        if sys.version_info < (3, 13):
            _std._register_atexit(_threads.shutdown)  # type: ignore[attr-defined]


_install()
