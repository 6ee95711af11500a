"""Starting threads, thread handles, and waiting for non-daemon threads at exit.

``start_new_thread`` and ``start_joinable_thread`` run the caller's function through a
small bootstrap object of ours, so that an exception escaping the function is reported
the way 3.14 reports it on every version (``sys.unraisablehook`` with the message
``Exception ignored in thread started by <function>``), and so that handles work the
same everywhere.

Thread handles: 3.13 gave the interpreter joinable handles, which wait for the OS
thread itself and which the interpreter joins at exit (non-daemon ones) when the
stdlib joins its own threads; treadle uses them there. Before 3.13, ``_ThreadHandle``
is written here on the lock the interpreter releases when a thread's state dies (the
"sentinel" the stdlib's own ``threading`` waited on), and non-daemon handles are joined
by ``_shutdown()``, which treadle runs at the stdlib's thread-join moment
(see ``_runtime``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import _native
from ._native import PythonFinalizationError, allocate_lock, get_ident

__all__ = [
    "ThreadHandle",
    "count",
    "report_unraisable",
    "shutdown",
    "start_bootstrap",
    "start_joinable_thread",
    "start_new_thread",
]

# --------------------------------------------------------------------------- reporting

_hook_args_type: list[type[Any]] = []


def _unraisable_args_type() -> type[Any]:
    """Return the interpreter's ``UnraisableHookArgs`` type, learning it on first use.

    ``sys.unraisablehook``'s default implementation only accepts that type, and Python
    code has no name for it; one deliberately unraisable error, caught by a hook that
    forwards every other report unchanged, shows it.
    """
    if _hook_args_type:
        return _hook_args_type[0]
    probe = RuntimeError("treadle: learning the UnraisableHookArgs type")
    caught: list[type[Any]] = []
    previous = sys.unraisablehook

    def learn(args: Any) -> None:
        if args.exc_value is probe:
            caught.append(type(args))
        else:
            previous(args)

    class _Probe:
        def __del__(self) -> None:
            raise probe

    sys.unraisablehook = learn
    try:
        _Probe()
    finally:
        sys.unraisablehook = previous
    _hook_args_type.append(caught[0])
    return caught[0]


def report_unraisable(exc: BaseException, err_msg: str, obj: object = None) -> None:
    """Hand *exc* to ``sys.unraisablehook`` as the interpreter itself would."""
    args = _unraisable_args_type()((type(exc), exc, exc.__traceback__, err_msg, obj))
    try:
        sys.unraisablehook(args)
    except BaseException:
        sys.__unraisablehook__(args)


# --------------------------------------------------------------------------- bootstrap


class _Boot:
    """What the OS thread runs: the caller's function, with 3.14's error reporting.

    It keeps its references until the interpreter drops the bootstrap itself, after the
    thread's count has gone down, so that a weak reference to the caller's function
    dying means the thread is gone (CPython's own tests rely on that order).
    """

    __slots__ = ("args", "func", "handle", "kwargs")

    def __init__(
        self,
        func: Callable[..., object],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        handle: ThreadHandle | None,
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.handle = handle

    def __call__(self) -> None:
        if sys.version_info < (3, 13) and self.handle is not None:
            self.handle._begin()
        try:
            self.func(*self.args, **self.kwargs)
        except SystemExit:
            pass
        except BaseException as exc:
            report_unraisable(exc, f"Exception ignored in thread started by {self.func!r}")


def _check_can_start() -> None:
    if sys.is_finalizing():
        raise PythonFinalizationError("can't create new thread at interpreter shutdown")


def _start(function: Callable[..., object], args: tuple[Any, ...] = ()) -> int:
    try:
        return _native.native_start(function, args)
    except RuntimeError as exc:
        # 3.12 refuses new threads once finalization begins with a plain RuntimeError.
        if sys.is_finalizing() and not isinstance(exc, PythonFinalizationError):
            raise PythonFinalizationError(str(exc)) from None
        raise


def start_new_thread(
    function: Callable[..., object],
    args: tuple[Any, ...],
    kwargs: dict[str, Any] | None = None,
    /,
) -> int:
    """Start a new thread running ``function(*args, **kwargs)``; return its identifier.

    The thread ends when the function returns or raises. An exception other than
    :exc:`SystemExit` is passed to :func:`sys.unraisablehook`. Raises the audit event
    ``_thread.start_new_thread``.
    """
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    if sys.version_info < (3, 12):
        # The interpreter raises it itself from 3.12 on.
        sys.audit("_thread.start_new_thread", function, args, kwargs)
    _check_can_start()
    return _start(_Boot(function, args, kwargs or {}, None))


# --------------------------------------------------------------------------- handles

if sys.version_info >= (3, 13):
    ThreadHandle = _native.NativeThreadHandle

    def _start_handle(boot: _Boot, handle: ThreadHandle, daemon: bool) -> None:
        try:
            _native.native_start_joinable(boot, handle=handle, daemon=daemon)
        except RuntimeError as exc:
            if sys.is_finalizing() and not isinstance(exc, PythonFinalizationError):
                raise PythonFinalizationError(str(exc)) from None
            raise

    def start_bootstrap(
        bootstrap: Callable[[], object], handle: ThreadHandle, daemon: bool
    ) -> None:
        """Start a thread running ``bootstrap()`` on *handle*, a new ``_ThreadHandle``.

        What ``start_joinable_thread(bootstrap, handle, daemon)`` does (the audit event,
        the refusal during finalization, non-daemon threads joined at exit), less the
        argument checks and the wrapper that reports an escaping exception: *bootstrap*
        must catch its own.
        """
        # The interpreter checks the arguments, raises the audit event and refuses to
        # start during finalization itself, as it does for the stdlib's Thread.start().
        _native.native_start_joinable(bootstrap, handle=handle, daemon=daemon)

    def shutdown() -> None:
        """Wait for every non-daemon thread (the interpreter does it at exit on 3.13+)."""
        import _thread  # noqa: PLC0415

        _thread._shutdown()  # type: ignore[attr-defined]

    def after_fork_in_child() -> None:
        """Do nothing: from 3.13 the interpreter marks vanished threads' handles done."""

else:
    _NOT_STARTED, _RUNNING, _DONE = 0, 1, 2
    # Handles of started threads not yet seen to end: a forked child marks the vanished
    # ones done, and shutdown() waits for the non-daemon ones. A plain set (adding and
    # discarding cost no Python call); finished handles nobody joined are pruned now
    # and then, so it stays about as large as the number of live threads.
    _running: set[ThreadHandle] = set()
    _prune_at = [16]
    _registry_lock = allocate_lock()

    class ThreadHandle:
        """A handle on an OS thread started by ``start_joinable_thread``.

        ``join()`` waits for the thread's end, ``is_done()`` tells whether it ended, and
        ``ident`` is its identifier (0 before it starts).
        """

        __slots__ = ("__weakref__", "_daemon", "_ident", "_ready", "_sentinel", "_state")

        def __init__(self) -> None:
            self._ident = 0
            self._state = _NOT_STARTED
            self._daemon = True
            self._ready: _native.LockType | None = None
            self._sentinel: _native.LockType | None = None

        def __repr__(self) -> str:
            return f"<treadle.thread_core._ThreadHandle object: ident={self._ident}>"

        @property
        def ident(self) -> int:
            """The thread's identifier, or 0 before it starts."""
            return self._ident

        def _claim(self, daemon: bool) -> None:
            # Runs in the starting thread: joiners wait on _ready until the new thread
            # has taken its sentinel.
            if self._state != _NOT_STARTED:
                raise RuntimeError("thread already started")
            ready = allocate_lock()
            ready.acquire()
            self._ready = ready
            self._state = _RUNNING
            self._daemon = daemon
            with _registry_lock:
                if len(_running) >= _prune_at[0]:
                    for done in [h for h in _running if h._finished_quietly()]:
                        _running.discard(done)
                    _prune_at[0] = max(16, 2 * len(_running))
                _running.add(self)

        def _unclaim(self) -> None:
            with _registry_lock:
                _running.discard(self)
            self._state = _NOT_STARTED
            self._ready = None

        def _begin(self) -> None:
            # Runs first in the new thread: learn the ident, take the sentinel that the
            # interpreter releases when this thread's state dies, then let joiners in.
            self._ident = get_ident()
            sentinel = _native.set_sentinel()
            sentinel.acquire()
            self._sentinel = sentinel
            assert self._ready is not None
            self._ready.release()

        def _boot(self, bootstrap: Callable[[], object]) -> None:
            # What start_bootstrap() runs in the new thread.
            self._begin()
            bootstrap()

        def is_done(self) -> bool:
            """Return whether the thread has finished."""
            if self._state == _DONE:
                return True
            sentinel = self._sentinel
            if sentinel is not None and not sentinel.locked():
                self._finished()
                return True
            return False

        def _finished_quietly(self) -> bool:
            # is_done() for callers already holding _registry_lock.
            sentinel = self._sentinel
            return self._state == _DONE or (sentinel is not None and not sentinel.locked())

        def _finished(self) -> None:
            self._state = _DONE
            with _registry_lock:
                _running.discard(self)

        def join(self, timeout: float | None = None) -> None:
            """Wait until the thread ends, or until *timeout* seconds have passed."""
            sentinel = self._sentinel
            if timeout is None and sentinel is not None and self._state == _RUNNING:
                # The common case: a started thread, joined by another one, for as long
                # as it takes. Its sentinel is free once it has ended.
                if sentinel.acquire(False):
                    sentinel.release()
                elif self._ident == get_ident():
                    raise RuntimeError("Cannot join current thread")
                else:
                    sentinel.acquire()
                    sentinel.release()
                if self._state != _DONE:
                    self._finished()
                return
            timeout = _check_timeout(timeout)
            if self._state == _NOT_STARTED:
                raise RuntimeError("thread not started")
            if self.is_done():
                return
            if self._ident == get_ident():
                raise RuntimeError("Cannot join current thread")
            deadline = None if timeout is None else _native_monotonic() + timeout
            for waitable in ("_ready", "_sentinel"):
                lock = getattr(self, waitable)
                if lock is None:
                    if self._state == _DONE:
                        return
                    continue  # pragma: no cover - set before _ready is released
                if deadline is None:
                    got = lock.acquire()
                else:
                    got = lock.acquire(True, max(0.0, deadline - _native_monotonic()))
                if not got:
                    return
                lock.release()
                if self._state == _DONE:
                    return
            self._finished()

        def _set_done(self) -> None:
            if self._state == _NOT_STARTED:
                raise RuntimeError("thread not started")
            self._finished()
            ready = self._ready
            if ready is not None and ready.locked():
                try:
                    ready.release()
                except RuntimeError:  # pragma: no cover - released concurrently
                    pass

    ThreadHandle.__name__ = ThreadHandle.__qualname__ = "_ThreadHandle"
    ThreadHandle.__module__ = "treadle.thread_core"

    def _start_handle(boot: _Boot, handle: ThreadHandle, daemon: bool) -> None:
        handle._claim(daemon)
        try:
            _start(boot)
        except BaseException:
            handle._unclaim()
            raise

    def start_bootstrap(
        bootstrap: Callable[[], object], handle: ThreadHandle, daemon: bool
    ) -> None:
        """Start a thread running ``bootstrap()`` on *handle* (as the 3.13+ version above)."""
        sys.audit("_thread.start_joinable_thread", bootstrap, daemon, handle)
        if sys.is_finalizing():
            raise PythonFinalizationError("can't create new thread at interpreter shutdown")
        handle._claim(daemon)
        try:
            _start(handle._boot, (bootstrap,))
        except BaseException:
            handle._unclaim()
            raise

    def shutdown() -> None:
        """Wait for every thread started with ``start_joinable_thread(daemon=False)``."""
        me = get_ident()
        while True:
            with _registry_lock:
                pending = [h for h in _running if not h._daemon and h._ident != me]
            if not pending:
                return
            for handle in pending:
                handle.join()
                with _registry_lock:
                    _running.discard(handle)

    def after_fork_in_child() -> None:
        """Only the forking thread survives a fork: every other handle is done."""
        global _registry_lock
        _registry_lock = allocate_lock()
        me = get_ident()
        for handle in list(_running):
            if handle._ident != me:
                handle._set_done()


def _native_monotonic() -> float:
    from time import monotonic  # noqa: PLC0415  (only on the timed-join path)

    return monotonic()


def _check_timeout(timeout: float | None) -> float | None:
    """Validate a join timeout as the interpreter does: None or negative wait forever."""
    if timeout is None:
        return None
    if not (hasattr(timeout, "__float__") or hasattr(timeout, "__index__")):
        raise TypeError(
            f"'{type(timeout).__name__}' object cannot be interpreted as an integer or float"
        )
    value = float(timeout)
    if math.isnan(value):
        raise ValueError("Invalid value NaN (not a number)")
    return None if value < 0 else value


def start_joinable_thread(
    function: Callable[[], object],
    handle: ThreadHandle | None = None,
    daemon: bool = True,
) -> ThreadHandle:
    """Start a thread running ``function()`` and return a handle to join it.

    *handle*, if given, must be a new ``_ThreadHandle``. A non-daemon thread
    (``daemon=False``) is waited for at interpreter exit, when the stdlib waits for its
    own threads and before :mod:`atexit` handlers run. Raises the audit event
    ``_thread.start_joinable_thread``.
    """
    if not callable(function):
        raise TypeError("thread function must be callable")
    if handle is None:
        handle = ThreadHandle()
    elif not isinstance(handle, ThreadHandle):
        raise TypeError("'handle' must be a _ThreadHandle")
    # From 3.13 the interpreter raises this event too, naming treadle's bootstrap.
    sys.audit("_thread.start_joinable_thread", function, daemon, handle)
    _check_can_start()
    _start_handle(_Boot(function, (), {}, handle), handle, bool(daemon))
    return handle


def count() -> int:
    """Return the number of threads started through ``_thread`` still running."""
    return _native.native_count()
