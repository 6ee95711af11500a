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

import _thread
import os
import sys
import threading as _std
from collections.abc import Callable
from typing import Protocol

from . import _threads
from ._native import allocate_lock, get_ident, get_native_id, is_main_interpreter

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
    _std._register_atexit(callback)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------ visibility


class _StdlibView(_std._DummyThread):
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
    # two, 3.13+ the third. The owner resets itself through after_fork_in_child.
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


def publish_current_thread(owner: ThreadOwner, *, native_id: int | None = None) -> None:
    """Show the calling thread to the stdlib's ``threading`` as *owner*.

    *native_id*, if given, is the calling thread's ``get_native_id()``, already known
    to the caller (asking the OS again costs a system call).
    """
    view = object.__new__(_StdlibView)
    view._treadle_owner = owner
    ident = view._ident = get_ident()
    view._native_id = get_native_id() if native_id is None else native_id
    view._initialized = True  # the stdlib's properties (ident, ...) check this first
    with _std._active_limbo_lock:  # type: ignore[attr-defined]
        _std._active[ident] = view  # type: ignore[attr-defined]


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


def stdlib_thread_for(ident: int) -> _std.Thread | None:
    """Return the stdlib's object for the live thread *ident*, without making a dummy.

    ``threading.current_thread()`` would register a dummy thread for a thread the stdlib
    does not know; this only looks.
    """
    found: _std.Thread | None = _std._active.get(ident)  # type: ignore[attr-defined]
    return found


def stdlib_shutdown() -> None:
    """Run the stdlib's interpreter-exit thread step now, from the main thread.

    It runs the :func:`at_thread_join` callbacks and joins the stdlib's non-daemon
    threads (from 3.13 every non-daemon thread handle too). For a program that ends
    through a treadle ``_shutdown()`` instead of the interpreter's own exit.
    """
    _std._shutdown()  # type: ignore[attr-defined]


def owner_of(thread: object) -> ThreadOwner | None:
    """Return the treadle thread a stdlib thread object stands for, or None."""
    if isinstance(thread, _StdlibView):
        owner: ThreadOwner = thread._treadle_owner
        return owner
    return None


# -------------------------------------------------------------------------- starting


# The function itself, not a wrapper: it is on the path of every Thread.start().
start_thread = _threads.start_bootstrap


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
    if is_main_interpreter() and sys.version_info < (3, 13):
        # Before 3.13 the interpreter does not know treadle's non-daemon handles: join
        # them from the stdlib's thread-join step. Registered first, so it runs after
        # every callback registered later (they may still need the threads running).
        _std._register_atexit(_threads.shutdown)  # type: ignore[attr-defined]


_install()
