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

**Starting.** :func:`start_thread` starts a thread on a thread handle the way the
stdlib's ``Thread.start()`` does, for a bootstrap that handles its own exceptions: no
wrapper runs between the new OS thread and the bootstrap.

**Fork.** :func:`after_fork_in_child` registers a callable that runs in the child
after ``os.fork()``, after treadle.thread_core has made its own state consistent (in the
child only the forking thread is alive, and the handles of the other threads are done).
"""

from __future__ import annotations

import os
import threading as _std
from collections.abc import Callable
from typing import Protocol

from . import _native
from ._native import StdlibView, get_ident, get_native_id, is_main_interpreter

__all__ = [
    "ThreadOwner",
    "after_fork_in_child",
    "at_thread_join",
    "owner_of",
    "publish_current_thread",
    "start_thread",
    "stdlib_shutdown",
    "stdlib_thread_for",
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
    _native.stdlib_register_atexit(callback)


# ------------------------------------------------------------------------ visibility


def publish_current_thread(owner: ThreadOwner, *, native_id: int | None = None) -> None:
    """Show the calling thread to the stdlib's ``threading`` as *owner*.

    *native_id*, if given, is the calling thread's ``get_native_id()``, already known
    to the caller (asking the OS again costs a system call).
    """
    ident = get_ident()
    view = StdlibView.of(owner, ident, get_native_id() if native_id is None else native_id)
    _native.stdlib_publish(ident, view)


def unpublish_current_thread() -> None:
    """Remove the calling thread's stand-in from the stdlib's registry."""
    _native.stdlib_unpublish(get_ident(), StdlibView)


def stdlib_threads() -> list[_std.Thread]:
    """Return the stdlib's live threads, less the stand-ins of published threads."""
    return [t for t in _std.enumerate() if not isinstance(t, StdlibView)]


def stdlib_thread_for(ident: int) -> _std.Thread | None:
    """Return the stdlib's object for the live thread *ident*, without making a dummy.

    ``threading.current_thread()`` would register a dummy thread for a thread the stdlib
    does not know; this only looks.
    """
    return _native.stdlib_lookup(ident)


def stdlib_shutdown() -> None:
    """Run the stdlib's interpreter-exit thread step now, from the main thread.

    It runs the :func:`at_thread_join` callbacks and joins the stdlib's non-daemon
    threads (from 3.13 every non-daemon thread handle too). For a program that ends
    through a treadle ``_shutdown()`` instead of the interpreter's own exit.
    """
    _native.stdlib_shutdown()


def owner_of(thread: object) -> ThreadOwner | None:
    """Return the treadle thread a stdlib thread object stands for, or None."""
    if isinstance(thread, StdlibView):
        owner: ThreadOwner = thread._treadle_owner
        return owner
    return None


# -------------------------------------------------------------------------- starting


# The function itself, not a wrapper: it is on the path of every Thread.start().
start_thread = _native.start_bootstrap


# ------------------------------------------------------------------------------ fork

_fork_callbacks: list[Callable[[], object]] = []


def after_fork_in_child(callback: Callable[[], object]) -> None:
    """Run *callback* in the child after ``os.fork()``, after thread-core's own reset."""
    if not callable(callback):
        raise TypeError(f"callback must be callable, not {type(callback).__name__}")
    _fork_callbacks.append(callback)


def _in_child() -> None:
    _native.handles_after_fork()
    for callback in list(_fork_callbacks):
        callback()


def _install() -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_in_child)
    if is_main_interpreter() and not _native.HAS_NATIVE_HANDLES:
        # Treadle's own handles are unknown to the interpreter: join the non-daemon ones
        # from the stdlib's thread-join step. Registered first, so it runs after every
        # callback registered later (they may still need the threads running).
        _native.stdlib_register_atexit(_native.join_non_daemon_threads)


_install()
