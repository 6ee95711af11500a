"""Thread, and the two kinds of Thread object the module makes itself.

A Thread is started with ``treadle.thread_core.runtime.start_thread`` on a handle made
up front; its liveness is its handle's. While it runs, it is published to the stdlib's
``threading`` (``runtime.publish_current_thread``), so that the stdlib's
``current_thread()`` and logging's ``threadName`` see it. ``MainThread`` stands for the
thread the interpreter started with, ``DummyThread`` for a thread started elsewhere
that asked for its Thread object.
"""

from __future__ import annotations

import contextvars as _std_contextvars
import sys
import threading as _std
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from treadle import contextvars as _tcv
from treadle import thread_core
from treadle.thread_core import runtime
from treadle.thread_core.support import check_timeout

from . import _registry as registry
from ._hooks import report_uncaught, start_hooks
from ._native import INHERIT_CONTEXT, ThreadHandle, set_os_name, tstate_lock
from ._registry import active, current_thread, dangling, limbo
from ._sync import Event

__all__ = ["DummyThread", "MainThread", "Thread"]

_get_ident = thread_core.get_ident
_get_native_id = thread_core.get_native_id
_new_lock = thread_core.allocate_lock
# Thread.start() launches through runtime.start_thread unless the public module's
# _start_joinable_thread has been replaced (then through the replacement, as the
# stdlib would).
_default_start_joinable = thread_core.start_joinable_thread
_start_thread = runtime.start_thread
_publish = runtime.publish_current_thread
_unpublish = runtime.unpublish_current_thread
_CONTEXT_TYPES = (_std_contextvars.Context, _tcv.Context)


def _daemon_flag(value: object) -> bool:
    """Return *value* as a daemon flag; RuntimeError where daemon threads are refused."""
    if value and not thread_core.daemon_threads_allowed():
        raise RuntimeError("daemon threads are disabled in this (sub)interpreter")
    return bool(value)


def _name_os_thread(name: str) -> None:
    if set_os_name is not None:
        try:
            set_os_name(name)
        except OSError:  # pragma: no cover - a name the OS refuses
            pass


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
    # How an uncaught exception is reported (an instance may carry its own).
    _invoke_excepthook = staticmethod(report_uncaught)

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
            name = f"Thread-{registry.public()._counter()}"
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
            self._daemonic = (current_thread() if creator is None else creator).daemon
        else:
            self._daemonic = _daemon_flag(daemon)
        self._context = context
        self._handle: Any = ThreadHandle()
        self._initialized = True
        self._stderr = sys.stderr  # for the excepthook, should sys.stderr be None then
        dangling.add(self)

    @property
    def _os_thread_handle(self) -> Any:
        return self._handle

    @property
    def _tstate_lock(self) -> Any:
        # Before 3.13: the lock the interpreter releases when the thread's state dies
        # (thread-core's handle waits on it), None before start and after the end.
        return tstate_lock(self._handle)

    def _life(self) -> str:
        """Where the thread is in its life: initial, started or stopped."""
        if not self._started_flag:
            return "stopped" if self._is_stopped else "initial"
        return "stopped" if self._is_stopped or self._handle.is_done() else "started"

    def __repr__(self) -> str:
        assert self._initialized, "Thread.__init__() was not called"
        words = [self._life()]
        if self._daemonic:
            words.append("daemon")
        if self._ident is not None:
            words.append(str(self._ident))
        return f"<{type(self).__name__}({self._name}, {' '.join(words)})>"

    # ---------------------------------------------------------------------- running

    def start(self) -> None:
        """Start the thread: ``run()`` is called in a new OS thread.

        RuntimeError if called more than once on the same Thread.
        """
        if not self._initialized:
            raise RuntimeError("thread.__init__() not called")
        if self._started_flag:
            raise RuntimeError("threads can only be started once")
        if INHERIT_CONTEXT and self._context is None:
            self._context = _std_contextvars.copy_context()
        boot = self._boot_lock = _new_lock()
        boot.acquire()
        with registry.lock:
            limbo[self] = self
        start = registry.public()._start_joinable_thread
        try:
            if start is _default_start_joinable:
                _start_thread(self._bootstrap, self._handle, self._daemonic)
            else:  # replaced (tests do): called as the stdlib calls it
                start(self._bootstrap, handle=self._handle, daemon=self._daemonic)
        except BaseException:
            with registry.lock:
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
            _name_os_thread(self._name)
            with registry.lock:
                active[ident] = self
                limbo.pop(self, None)
            _publish(self, native_id=native_id)
            if boot is not None:
                boot.release()
                boot = None
            start_hooks()
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
                with registry.lock:
                    if active.get(ident) is self:
                        del active[ident]

    def run(self) -> None:
        """Do the thread's work: call *target* with *args* and *kwargs*.

        Subclasses may override it. The thread lets go of *target* and its arguments
        as the call begins, so that they do not outlive it through a reference cycle.
        """
        call, args, kwargs = self._target, self._args, self._kwargs
        del self._target, self._args, self._kwargs
        if call is not None:
            call(*args, **kwargs)

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
        wait = check_timeout(timeout)
        if wait is None:
            self._handle.join()
        else:  # a negative timeout waits for nothing
            self._handle.join(wait if wait > 0.0 else 0.0)

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
        if self._ident == _get_ident():
            _name_os_thread(self._name)

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
        if self._started_flag:
            raise RuntimeError("cannot set daemon status of active thread")
        self._daemonic = _daemon_flag(value)

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
        ident = _std.main_thread().ident if ident is None else ident
        assert ident is not None
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
            name=f"Dummy-{registry.public()._counter()}",
            daemon=thread_core.daemon_threads_allowed(),
        )
        ident = _get_ident()
        self._handle = _FlagHandle(ident)
        self._ident = ident
        self._native_id = _get_native_id()
        self._started_flag = True
        with registry.lock:
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

registry.main = MainThread()
