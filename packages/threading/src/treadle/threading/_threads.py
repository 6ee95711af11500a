"""Thread, the thread registry, and everything that looks at which threads exist.

Threads are started with ``treadle.thread_core.start_joinable_thread`` on a handle made
up front; a Thread's liveness is its handle's. Each running treadle Thread is published
to the stdlib's ``threading`` (``runtime.publish_current_thread``), so the stdlib's
``current_thread()`` and logging's ``threadName`` see it; ``enumerate()`` here lists the
stdlib's own threads too.

Names that CPython's tests and some programs patch on the *public* module
(``_counter``, ``excepthook``, ``_start_joinable_thread``) are looked up there at the
moment of use, so patching ``treadle.threading.X`` works as patching ``threading.X``.
"""

from __future__ import annotations

import contextvars as _std_contextvars
import functools
import itertools
import sys
import threading as _std
import warnings
import weakref
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from treadle import contextvars as _tcv
from treadle import thread_core
from treadle.thread_core import runtime

from . import _sync
from ._sync import Event, check_timeout

__all__ = [
    "DummyThread",
    "MainThread",
    "Thread",
    "Timer",
    "active",
    "activeCount",
    "active_count",
    "after_fork",
    "counter",
    "currentThread",
    "current_thread",
    "dangling",
    "enumerate",
    "getprofile",
    "gettrace",
    "limbo",
    "main_thread",
    "register_atexit",
    "setprofile",
    "setprofile_all_threads",
    "settrace",
    "settrace_all_threads",
    "shutdown",
    "shutdown_locks",
]

_get_ident = thread_core.get_ident
# 3.13 gave the interpreter joinable thread handles (no per-thread sentinel lock).
_NATIVE_HANDLES = sys.version_info >= (3, 13)
_get_native_id = thread_core.get_native_id
_set_os_name: Callable[[str], None] | None = getattr(thread_core, "set_name", None)

# ------------------------------------------------------------------------------ registry

active: dict[int, Thread] = {}
"""ident -> Thread, for every running thread this module knows (the stdlib's ``_active``)."""
limbo: dict[Thread, Thread] = {}
"""Threads whose start() is under way."""
dangling: weakref.WeakSet[Thread] = weakref.WeakSet()
"""Every Thread object still alive (CPython's test helpers count them)."""


class _ShutdownLocks:
    """A live view: the ``_tstate_lock`` of every running non-daemon Thread (<= 3.12).

    Code written for 3.12 and earlier looks there; treadle's shutdown joins handles.
    """

    def _locks(self) -> list[Any]:
        with _registry_lock:
            threads = [*active.values(), *limbo]
        found = []
        for thread in threads:
            if not thread._daemonic:
                lock = thread._tstate_lock
                if lock is not None:
                    found.append(lock)
        return found

    def __contains__(self, lock: object) -> bool:
        return any(held is lock for held in self._locks())

    def __iter__(self) -> Any:
        return iter(self._locks())

    def __len__(self) -> int:
        return len(self._locks())


shutdown_locks = _ShutdownLocks()
_registry_lock = thread_core.allocate_lock()

counter = itertools.count(1).__next__
"""Numbers for default thread names."""

_public: ModuleType | None = None


def _pub() -> Any:
    """Return the public ``treadle.threading`` module (patched names are read there).

    Hot paths write ``(_public or _pub())``: one global read once it is known.
    """
    global _public
    if _public is None:
        _public = sys.modules[__name__.rpartition(".")[0]]
    return _public


# Thread.start() launches through this unless the public module's _start_joinable_thread
# has been replaced (then through the replacement, as the stdlib would).
_default_start_joinable = thread_core.start_joinable_thread
_start_thread = runtime.start_thread
_publish = runtime.publish_current_thread
_unpublish = runtime.unpublish_current_thread
_new_lock = thread_core.allocate_lock
_new_handle = thread_core._ThreadHandle
# sys.flags is fixed when the interpreter starts.
_INHERIT_CONTEXT = bool(getattr(sys.flags, "thread_inherit_context", False))


# ----------------------------------------------------------------------- trace / profile

_trace_hook: Any = None
_profile_hook: Any = None


def settrace(func: Any) -> None:
    """Set a trace function for every thread started from this module afterwards."""
    global _trace_hook
    _trace_hook = func


def settrace_all_threads(func: Any) -> None:
    """Set a trace function for threads started later and every running thread."""
    settrace(func)
    setter = getattr(sys, "_settraceallthreads", None)
    if setter is not None:
        setter(func)
    else:  # Before 3.12 only the calling thread can be reached.
        sys.settrace(func)


def gettrace() -> Any:
    """Return the trace function set by :func:`settrace`, or None."""
    return _trace_hook


def setprofile(func: Any) -> None:
    """Set a profile function for every thread started from this module afterwards."""
    global _profile_hook
    _profile_hook = func


def setprofile_all_threads(func: Any) -> None:
    """Set a profile function for threads started later and every running thread."""
    setprofile(func)
    setter = getattr(sys, "_setprofileallthreads", None)
    if setter is not None:
        setter(func)
    else:  # Before 3.12 only the calling thread can be reached.
        sys.setprofile(func)


def getprofile() -> Any:
    """Return the profile function set by :func:`setprofile`, or None."""
    return _profile_hook


# ------------------------------------------------------------------------------- handles


class _FlagHandle:
    """The handle of a thread not started here (the main thread, dummies)."""

    __slots__ = ("_done", "ident")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self._done = Event()

    def is_done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def _set_done(self) -> None:
        self._done.set()


def _invoke_excepthook(thread: Thread) -> None:
    """Report the exception being handled in *thread* through ``excepthook``."""
    exc_type, exc_value, exc_tb = sys.exc_info()
    try:
        hook = getattr(_pub(), "excepthook", None)
    except Exception:
        hook = None
    if hook is None:
        hook = thread_core._excepthook
    args = thread_core._ExceptHookArgs([exc_type, exc_value, exc_tb, thread])
    try:
        hook(args)
    except Exception as exc:
        exc.__suppress_context__ = True
        del exc
        stderr = sys.stderr if sys.stderr is not None else thread._stderr
        if stderr is not None:
            print("Exception in threading.excepthook:", file=stderr, flush=True)
        fallback = sys.excepthook if sys.excepthook is not None else sys.__excepthook__
        fallback(*sys.exc_info())
    finally:
        del args, exc_value, exc_tb


# -------------------------------------------------------------------------------- Thread


def _check_daemon_allowed() -> None:
    if not thread_core.daemon_threads_allowed():
        raise RuntimeError("daemon threads are disabled in this (sub)interpreter")


_CONTEXT_TYPES = (_std_contextvars.Context, _tcv.Context)


class Thread:
    """A thread of control: ``start()`` runs ``run()`` (by default, *target*) in it.

    *name* defaults to ``"Thread-N (target)"``, *daemon* to the creating thread's
    daemon flag, and *context* (3.14) is the ``contextvars.Context`` in which ``run()``
    executes (a treadle or stdlib Context; by default an empty one, or a copy of the
    caller's when ``sys.flags.thread_inherit_context`` is set).
    """

    _initialized = False
    # Defaults kept on the class: __init__ need not store them.
    _started_flag = False  # start() has launched the thread
    _boot_lock: Any = None  # held from start() until the new thread is registered
    _ident: int | None = None
    _native_id: int | None = None
    _is_stopped = False

    def __init__(
        self,
        group: None = None,
        target: Callable[..., object] | None = None,
        name: object = None,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        daemon: bool | None = None,
        context: Any = None,
    ) -> None:
        if group is not None:
            raise AssertionError("group argument must be None for now")
        if target is not None and not callable(target):
            raise TypeError(f"target must be callable or None, not {type(target).__name__}")
        if context is not None and not isinstance(context, _CONTEXT_TYPES):
            raise TypeError(
                f"context must be a contextvars.Context or None, not {type(context).__name__}"
            )
        if name:
            name = str(name)
        else:
            name = f"Thread-{(_public or _pub())._counter()}"
            if target is not None:
                target_name = getattr(target, "__name__", None)
                if target_name is not None:
                    name = f"{name} ({target_name})"
        self._target = target
        self._name: str = name
        self._args = args
        self._kwargs = {} if kwargs is None else kwargs
        if daemon is None:
            creator = active.get(_get_ident())
            daemon = (current_thread() if creator is None else creator).daemon
        elif daemon:
            _check_daemon_allowed()
        self._daemonic = bool(daemon)
        self._context = context
        self._handle: Any = _new_handle()
        self._initialized = True
        self._stderr = sys.stderr
        self._invoke_excepthook = _invoke_excepthook
        dangling.add(self)

    @property
    def _os_thread_handle(self) -> Any:
        return self._handle

    @property
    def _tstate_lock(self) -> Any:
        # Before 3.13: the lock the interpreter releases when the thread's state dies
        # (thread-core's handle waits on it), None before start and after the end.
        handle = self._handle
        if _NATIVE_HANDLES or handle.is_done():
            return None
        return getattr(handle, "_sentinel", None)

    def __repr__(self) -> str:
        assert self._initialized, "Thread.__init__() was not called"
        state = "initial"
        if self._started_flag:
            state = "started"
        if self._is_stopped or (self._started_flag and self._handle.is_done()):
            state = "stopped"
        if self._daemonic:
            state += " daemon"
        if self._ident is not None:
            state += f" {self._ident}"
        return f"<{type(self).__name__}({self._name}, {state})>"

    # ---------------------------------------------------------------------- running

    def start(self) -> None:
        """Start the thread: ``run()`` is called in a new OS thread.

        RuntimeError if called more than once on the same Thread.
        """
        if not self._initialized:
            raise RuntimeError("thread.__init__() not called")
        if self._started_flag:
            raise RuntimeError("threads can only be started once")
        if _INHERIT_CONTEXT and self._context is None:
            self._context = _std_contextvars.copy_context()
        boot = self._boot_lock = _new_lock()
        boot.acquire()
        with _registry_lock:
            limbo[self] = self
        start = (_public or _pub())._start_joinable_thread
        try:
            if start is _default_start_joinable:
                _start_thread(self._bootstrap, self._handle, self._daemonic)
            else:  # replaced (tests do): called as the stdlib calls it
                start(self._bootstrap, handle=self._handle, daemon=self._daemonic)
        except BaseException:
            with _registry_lock:
                limbo.pop(self, None)
            self._boot_lock = None
            raise
        self._started_flag = True
        # As the stdlib does, return once the thread is registered (here and with the
        # stdlib's threading), so enumerate() and current_thread() agree with start().
        # The lock is given back at once: native_id may wait on it too.
        boot.acquire()
        boot.release()

    def _bootstrap(self) -> None:
        ident = self._ident = _get_ident()
        # Started from now on, even if start() has not yet got the GIL back to say so.
        self._started_flag = True
        boot = self._boot_lock
        try:
            native_id = self._native_id = _get_native_id()
            if _set_os_name is not None:
                try:
                    _set_os_name(self._name)
                except OSError:  # pragma: no cover - a name the OS refuses
                    pass
            with _registry_lock:
                active[ident] = self
                limbo.pop(self, None)
            _publish(self, native_id=native_id)
            if boot is not None:
                boot.release()
                boot = None
            if _trace_hook is not None:
                sys.settrace(_trace_hook)
            if _profile_hook is not None:
                sys.setprofile(_profile_hook)
            try:
                if self._context is None:
                    self.run()
                else:
                    self._context.run(self.run)
            except BaseException:
                self._invoke_excepthook(self)
        finally:
            self._is_stopped = True
            if boot is not None:  # failed before registering: start() must not wait forever
                boot.release()
            try:
                _unpublish()
            finally:
                with _registry_lock:
                    if active.get(ident) is self:
                        del active[ident]

    def run(self) -> None:
        """Do the thread's work: call *target* with *args* and *kwargs*.

        Subclasses may override it.
        """
        try:
            if self._target is not None:
                self._target(*self._args, **self._kwargs)
        finally:
            # Drop the references so a thread's objects do not outlive it in a cycle.
            del self._target, self._args, self._kwargs

    def join(self, timeout: float | None = None) -> None:
        """Wait until the thread ends, or at most *timeout* seconds.

        Check ``is_alive()`` afterwards to know whether it ended. A negative timeout
        waits for nothing. RuntimeError for a thread not started, or the current one.
        """
        if not self._started_flag:
            if not self._initialized:
                raise RuntimeError("Thread.__init__() not called")
            raise RuntimeError("cannot join thread before it is started")
        # current_thread() is self only in a thread whose ident is self's.
        if self._ident == _get_ident() and self is current_thread():
            raise RuntimeError("cannot join current thread")
        if timeout is None:
            self._handle.join()
        else:
            self._handle.join(max(check_timeout(timeout), 0.0))

    def is_alive(self) -> bool:
        """Return whether the thread is running (between ``start()`` and its end)."""
        assert self._initialized, "Thread.__init__() not called"
        if not self._started_flag:
            return False
        return not self._handle.is_done()

    # ---------------------------------------------------------------------- properties

    @property
    def name(self) -> str:
        """The thread's name (for identification only; several may share one)."""
        assert self._initialized, "Thread.__init__() not called"
        return self._name

    @name.setter
    def name(self, value: object) -> None:
        assert self._initialized, "Thread.__init__() not called"
        self._name = str(value)
        if _set_os_name is not None and self._ident == _get_ident():
            try:
                _set_os_name(self._name)
            except OSError:  # pragma: no cover
                pass

    @property
    def ident(self) -> int | None:
        """The thread's identifier once started, else None."""
        assert self._initialized, "Thread.__init__() not called"
        return self._ident

    @property
    def native_id(self) -> int | None:
        """The OS's id for the thread once started, else None."""
        assert self._initialized, "Thread.__init__() not called"
        if self._native_id is None and self._started_flag and not self._is_stopped:
            boot = self._boot_lock
            if boot is not None:  # start() is under way in another thread
                with boot:
                    pass
        return self._native_id

    @property
    def daemon(self) -> bool:
        """Whether the thread is a daemon thread (exit does not wait for it)."""
        assert self._initialized, "Thread.__init__() not called"
        return self._daemonic

    @daemon.setter
    def daemon(self, value: bool) -> None:
        if not self._initialized:
            raise RuntimeError("Thread.__init__() not called")
        if value:
            _check_daemon_allowed()
        if self._started_flag:
            raise RuntimeError("cannot set daemon status of active thread")
        self._daemonic = bool(value)

    def isDaemon(self) -> bool:
        """Return :attr:`daemon` (deprecated getter)."""
        warnings.warn(
            "isDaemon() is deprecated, get the daemon attribute instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.daemon

    def setDaemon(self, daemonic: bool) -> None:
        """Set :attr:`daemon` (deprecated setter)."""
        warnings.warn(
            "setDaemon() is deprecated, set the daemon attribute instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.daemon = daemonic

    def getName(self) -> str:
        """Return :attr:`name` (deprecated getter)."""
        warnings.warn(
            "getName() is deprecated, get the name attribute instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.name

    def setName(self, name: str) -> None:
        """Set :attr:`name` (deprecated setter)."""
        warnings.warn(
            "setName() is deprecated, set the name attribute instead",
            DeprecationWarning,
            stacklevel=2,
        )
        self.name = name


class MainThread(Thread):
    """The thread the interpreter started with."""

    def __init__(self, ident: int | None = None) -> None:
        super().__init__(name="MainThread", daemon=False)
        ident = thread_core._get_main_thread_ident() if ident is None else ident
        self._handle = _FlagHandle(ident)
        self._ident = ident
        self._native_id = _get_native_id() if ident == _get_ident() else None
        self._started_flag = True
        active[ident] = self


class DummyThread(Thread):
    """A thread started elsewhere (``_thread``, C code), seen by ``current_thread()``.

    It is alive, a daemon, named ``Dummy-N``, cannot be joined, and is dropped from
    the registry when its thread ends.
    """

    def __init__(self) -> None:
        super().__init__(
            name=f"Dummy-{_pub()._counter()}", daemon=thread_core.daemon_threads_allowed()
        )
        ident = _get_ident()
        self._handle = _FlagHandle(ident)
        self._ident = ident
        self._native_id = _get_native_id()
        self._started_flag = True
        with _registry_lock:
            active[ident] = self
        _death_watch.marker = _DummyMarker(self)

    @property
    def daemon(self) -> bool:
        """Always True."""
        return True

    @daemon.setter
    def daemon(self, value: bool) -> None:
        raise RuntimeError("cannot set daemon status of a dummy thread")

    def join(self, timeout: float | None = None) -> None:
        """Refused: a dummy thread cannot be joined."""
        raise RuntimeError("cannot join a dummy thread")

    def is_alive(self) -> bool:
        """Whether the foreign thread is still running (RuntimeError once it ended)."""
        if self._started_flag and not self._is_stopped and not self._handle.is_done():
            return True
        raise RuntimeError("thread is not alive")


class _StartedView:
    """``Thread._started``: the started flag, seen through part of an Event's API."""

    __slots__ = ("_thread",)

    def __init__(self, thread: Thread) -> None:
        self._thread = thread

    def is_set(self) -> bool:
        return self._thread._started_flag

    def set(self) -> None:
        self._thread._started_flag = True

    def clear(self) -> None:
        self._thread._started_flag = False


class _StartedAttribute:
    """The stdlib keeps an Event in ``Thread._started``; treadle keeps a flag.

    Code that looks there (``is_set()``, and ``clear()`` in CPython's tests of dummy
    threads) gets a view of the flag. It is a non-data descriptor, so a subclass that
    stores its own ``_started`` attribute still can, without touching the flag.
    """

    def __get__(self, thread: Thread | None, owner: type | None = None) -> Any:
        return self if thread is None else _StartedView(thread)


Thread._started = _StartedAttribute()  # type: ignore[attr-defined]


class _DummyMarker:
    """Kept in a thread-local: dies with its thread, and drops the dummy then."""

    __slots__ = ("thread",)

    def __init__(self, thread: DummyThread) -> None:
        self.thread = thread

    def __del__(self) -> None:
        thread = self.thread
        thread._is_stopped = True
        thread._handle._set_done()
        ident = thread._ident
        if ident is not None and active.get(ident) is thread:
            active.pop(ident, None)


_death_watch = thread_core.local()


# --------------------------------------------------------------------------------- Timer


class Timer(Thread):
    """Call ``function(*args, **kwargs)`` after *interval* seconds, unless cancelled."""

    def __init__(
        self,
        interval: float,
        function: Callable[..., object],
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        check_timeout(interval, "interval")
        if not callable(function):
            raise TypeError(f"function must be callable, not {type(function).__name__}")
        super().__init__()
        self.interval = interval
        self.function = function
        self.args = args if args is not None else []
        self.kwargs = kwargs if kwargs is not None else {}
        self.finished = Event()

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet."""
        self.finished.set()

    def run(self) -> None:
        """Wait *interval* seconds, then call the function unless cancelled."""
        self.finished.wait(self.interval)
        if not self.finished.is_set():
            self.function(*self.args, **self.kwargs)
        self.finished.set()


# ------------------------------------------------------------------------ who is running


def current_thread() -> Any:
    """Return the Thread object of the calling thread.

    A thread the stdlib's ``threading`` started is returned as the stdlib's object; a
    thread nobody registered gets a :class:`DummyThread`.
    """
    try:
        return active[_get_ident()]
    except KeyError:
        pass
    std = _std._active.get(_get_ident())  # type: ignore[attr-defined]
    if std is not None:
        owner = runtime.owner_of(std)
        return std if owner is None else owner
    return DummyThread()


def currentThread() -> Any:
    """Return :func:`current_thread` (deprecated alias)."""
    warnings.warn(
        "currentThread() is deprecated, use current_thread() instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return current_thread()


def enumerate() -> list[Any]:
    """Return every live thread: this module's and the stdlib's."""
    with _registry_lock:
        mine: list[Any] = [*active.values(), *limbo]
    known = set(active)
    mine.extend(t for t in runtime.stdlib_threads() if t.ident not in known)
    return mine


def active_count() -> int:
    """Return the number of live threads (the length of :func:`enumerate`)."""
    return len(enumerate())


def activeCount() -> int:
    """Return :func:`active_count` (deprecated alias)."""
    warnings.warn(
        "activeCount() is deprecated, use active_count() instead",
        DeprecationWarning,
        stacklevel=2,
    )
    return active_count()


_main: list[Thread] = []


def main_thread() -> Thread:
    """Return the main Thread object (the thread the interpreter started with)."""
    return _main[0]


# ------------------------------------------------------------------------------ shutdown

_shutting_down = [False]


def register_atexit(func: Callable[..., object], *args: Any, **kwargs: Any) -> None:
    """Call ``func(*args, **kwargs)`` at exit when non-daemon threads are joined.

    Calls run in reverse order of registration, before :mod:`atexit` handlers;
    RuntimeError once shutdown has begun (``treadle.futures`` stops its workers here).
    """
    if _shutting_down[0]:
        raise RuntimeError("can't register atexit after shutdown")
    runtime.at_thread_join(functools.partial(func, *args, **kwargs))


def shutdown() -> None:
    """Wait for every non-daemon thread, after running the registered exit calls.

    The interpreter calls this at exit when this module stands in for ``threading``.
    """
    main = _main[0]
    if main._handle.is_done() and thread_core._is_main_interpreter():
        return  # already done (e.g. called twice)
    _shutting_down[0] = True
    if main._ident == _get_ident():
        # The main thread has finished: threads joining it may go on (and end).
        main._is_stopped = True
        main._handle._set_done()
    if sys.modules.get("threading") is not _std:
        # The stdlib's own step runs the at_thread_join callbacks and joins its threads
        # (and, from 3.13, every non-daemon thread handle, ours included).
        _std._shutdown()  # type: ignore[attr-defined]
    while True:
        with _registry_lock:
            pending = [
                t
                for t in (*active.values(), *limbo)
                if not t._daemonic
                and t is not main
                and t._ident != _get_ident()
                and not isinstance(t, DummyThread)
            ]
        pending = [t for t in pending if t.is_alive()]
        if not pending:
            return
        for thread in pending:
            thread._handle.join()


# ---------------------------------------------------------------------------------- fork


def after_fork() -> None:
    """Make the registry consistent in a forked child: only the caller lives on."""
    global _registry_lock
    _registry_lock = thread_core.allocate_lock()
    me = _get_ident()
    current = active.get(me)
    survivors: dict[int, Thread] = {}
    for thread in [*active.values(), *limbo]:
        if thread is current:
            continue
        thread._is_stopped = True
        done = getattr(thread._handle, "_set_done", None)
        if isinstance(thread._handle, _FlagHandle) and done is not None:
            done()
    if isinstance(current, DummyThread):
        # The forking thread was foreign: in the child it is the main thread, and its
        # object becomes the main thread's (as 3.13+ does).
        _death_watch.marker = None  # its thread no longer ends before the process
        current.__class__ = MainThread  # type: ignore[assignment]
        current._name = "MainThread"
        current._daemonic = False
        current._is_stopped = False
        current._handle = _FlagHandle(me)
    elif current is None:
        current = MainThread(me)
    current._ident = me
    current._native_id = _get_native_id()
    survivors[me] = current
    limbo.clear()
    active.clear()
    active.update(survivors)
    _main[:] = [current]  # the forking thread is the child's main thread
    _sync.reinit_after_fork()
    for thread in survivors.values():
        thread._started_flag = True
        thread._boot_lock = None


def _main_finished() -> None:
    # At the stdlib's thread-join step the main thread is done: threads joining it go on.
    main = _main[0]
    if main._ident == _get_ident():
        main._is_stopped = True
        main._handle._set_done()


_main.append(MainThread())
runtime.after_fork_in_child(after_fork)
try:
    runtime.at_thread_join(_main_finished)
except RuntimeError:  # pragma: no cover - imported during interpreter shutdown
    pass
