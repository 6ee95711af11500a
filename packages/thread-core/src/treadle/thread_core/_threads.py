"""Starting threads: ``start_new_thread`` and ``start_joinable_thread``.

Both run the caller's function through a small bootstrap object of ours, so that an
exception escaping the function is reported the way 3.14 reports it on every version
(``sys.unraisablehook`` with the message ``Exception ignored in thread started by
<function>``).

The handles themselves come from :mod:`._native`: the interpreter's ``_ThreadHandle``
from 3.13 on, treadle's own (in :mod:`._handles`) before. Either way a non-daemon
handle is joined at interpreter exit when the stdlib joins its own threads (before 3.13,
:mod:`.runtime` arranges it).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from . import _native
from ._native import PythonFinalizationError, ThreadHandle

__all__ = ["report_unraisable", "start_joinable_thread", "start_new_thread"]

# --------------------------------------------------------------------------- reporting

# The interpreter's UnraisableHookArgs type, learnt on the first report.
_unraisable_args: type[Any] | None = None


def _learn_unraisable_args() -> type[Any]:
    """Return the type ``sys.unraisablehook`` receives, which Python code cannot name.

    The default hook accepts nothing else. One deliberately unraisable error shows it,
    caught by a hook that passes every other report on unchanged.
    """
    global _unraisable_args
    marker = RuntimeError("treadle: learning the UnraisableHookArgs type")
    seen: list[type[Any]] = []
    installed = sys.unraisablehook

    def spy(report: Any) -> None:
        if report.exc_value is not marker:
            installed(report)
            return
        seen.append(type(report))

    class _RaisesWhenCollected:
        def __del__(self) -> None:
            raise marker

    sys.unraisablehook = spy
    try:
        _RaisesWhenCollected()
    finally:
        sys.unraisablehook = installed
    _unraisable_args = seen[0]
    return seen[0]


def report_unraisable(exc: BaseException, err_msg: str, obj: object = None) -> None:
    """Hand *exc* to ``sys.unraisablehook`` as the interpreter itself would."""
    kind = _unraisable_args or _learn_unraisable_args()
    report = kind((type(exc), exc, exc.__traceback__, err_msg, obj))
    try:
        sys.unraisablehook(report)
    except BaseException:
        sys.__unraisablehook__(report)


# --------------------------------------------------------------------------- bootstrap


class _Boot:
    """What the OS thread runs: the caller's function, with 3.14's error reporting.

    The interpreter drops it (and with it the caller's function and arguments) only
    after the thread's count has gone down, so that a weak reference to the function
    dying means the thread is gone (CPython's own tests rely on that order).
    """

    __slots__ = ("args", "func", "kwargs")

    def __init__(
        self, func: Callable[..., object], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs

    def __call__(self) -> None:
        try:
            self.func(*self.args, **self.kwargs)
        except SystemExit:
            pass
        except BaseException as exc:
            report_unraisable(exc, f"Exception ignored in thread started by {self.func!r}")


def _refuse_during_finalization() -> None:
    if sys.is_finalizing():
        raise PythonFinalizationError("can't create new thread at interpreter shutdown")


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
    if not _native.INTERPRETER_AUDITS_NEW_THREAD:
        sys.audit("_thread.start_new_thread", function, args, kwargs)
    _refuse_during_finalization()
    return _native.native_start(_Boot(function, args, kwargs or {}), ())


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
    _refuse_during_finalization()
    _native.start_on_handle(_Boot(function, (), {}), handle, bool(daemon))
    return handle
