"""The hooks tools install on ``threading``: trace, profile and excepthook.

Debuggers, profilers and coverage.py install their trace or profile function with the
stdlib's ``threading.settrace``/``setprofile``; pytest and error reporters (Sentry)
replace the stdlib's ``threading.excepthook``. A treadle thread honours both:

* when it starts, it installs the function given to ``treadle.threading.settrace``
  (``setprofile``) or, if none was, the one the stdlib's ``threading.gettrace()``
  (``getprofile()``) returns at that moment;
* when it dies of an exception, it calls ``treadle.threading.excepthook`` as found at
  that moment. Unless the program replaced it, that is :func:`excepthook` here, which
  passes the exception on to the stdlib's ``threading.excepthook`` as installed then.
"""

from __future__ import annotations

import sys
import threading as _std
from collections.abc import Callable
from typing import Any

from . import _native
from ._registry import public

__all__ = [
    "ExceptHookArgs",
    "excepthook",
    "getprofile",
    "gettrace",
    "report_uncaught",
    "setprofile",
    "setprofile_all_threads",
    "settrace",
    "settrace_all_threads",
    "start_hooks",
]

ExceptHookArgs = _std.ExceptHookArgs
"""The interpreter's record of an uncaught thread exception (a 4-field named tuple).

The stdlib's own excepthook accepts nothing else, so treadle hands hooks this type.
"""

_Hook = Callable[..., Any]


class _StartHook:
    """One kind of hook threads started here install as they start: trace or profile."""

    __slots__ = ("func", "install", "reach_running", "stdlibs")

    def __init__(
        self,
        install: Callable[[_Hook | None], None],
        stdlibs: Callable[[], _Hook | None],
        reach_running: Callable[[_Hook | None], None],
    ) -> None:
        self.func: _Hook | None = None  # set through this module; else the stdlib's
        self.install = install
        self.stdlibs = stdlibs
        self.reach_running = reach_running

    def set_everywhere(self, func: _Hook | None) -> None:
        self.func = func
        self.reach_running(func)

    def start(self) -> None:
        func = self.func if self.func is not None else self.stdlibs()
        if func is not None:
            self.install(func)


_trace = _StartHook(sys.settrace, _std.gettrace, _native.settrace_running_threads)
_profile = _StartHook(sys.setprofile, _std.getprofile, _native.setprofile_running_threads)


# ----------------------------------------------------------------------- trace / profile


def settrace(func: _Hook | None) -> None:
    """Set the trace function of every thread started from this module from now on.

    Until one is set here, threads started here take the stdlib's (``threading.settrace``).
    """
    _trace.func = func


def settrace_all_threads(func: _Hook | None) -> None:
    """Set the trace function of threads started from now on and of every running thread.

    Before 3.12 the interpreter cannot reach other running threads: only the calling
    thread's function is set there.
    """
    _trace.set_everywhere(func)


def gettrace() -> _Hook | None:
    """Return the trace function given to :func:`settrace`, or None."""
    return _trace.func


def setprofile(func: _Hook | None) -> None:
    """Like :func:`settrace`, for the profile function (the stdlib's: ``setprofile``)."""
    _profile.func = func


def setprofile_all_threads(func: _Hook | None) -> None:
    """Like :func:`settrace_all_threads`, for the profile function."""
    _profile.set_everywhere(func)


def getprofile() -> _Hook | None:
    """Return the profile function given to :func:`setprofile`, or None."""
    return _profile.func


def start_hooks() -> None:
    """Install the trace and profile functions in the calling (newly started) thread."""
    _trace.start()
    _profile.start()


# ---------------------------------------------------------------------------- excepthook


def excepthook(args: Any, /) -> None:
    """Handle an exception that ended a thread, as the stdlib's ``excepthook`` would.

    *args* is an :class:`ExceptHookArgs` (``exc_type``, ``exc_value``,
    ``exc_traceback``, ``thread``). This passes it on to the stdlib's
    ``threading.excepthook`` as installed at this moment, so that a hook installed there
    by a tool (pytest's unhandled-exception warning, an error reporter) sees treadle's
    threads too. The stdlib's default prints ``Exception in thread <name>:`` and the
    traceback to ``sys.stderr`` (or, if that is None, to the thread's original
    ``stderr``) and stays silent for :exc:`SystemExit`.
    """
    stdlib_hook = _std.excepthook
    if stdlib_hook is excepthook:  # installed there too: do not go round in a circle
        stdlib_hook = _std.__excepthook__
    stdlib_hook(args)


def _hook_in_force() -> Callable[[Any], object]:
    hook = getattr(public(), "excepthook", None)  # None once the module is torn down
    return excepthook if hook is None else hook


def _hook_failed(thread: Any) -> None:
    # The hook itself raised: say so, then let sys.excepthook show what it raised.
    out = sys.stderr if sys.stderr is not None else getattr(thread, "_stderr", None)
    if out is not None:
        print("Exception in threading.excepthook:", file=out, flush=True)
    show = sys.excepthook if sys.excepthook is not None else sys.__excepthook__
    show(*sys.exc_info())


def report_uncaught(thread: Any) -> None:
    """Hand the exception *thread* is handling now to ``excepthook``."""
    exc_type, exc_value, exc_tb = sys.exc_info()
    record = ExceptHookArgs((exc_type, exc_value, exc_tb, thread))
    try:
        _hook_in_force()(record)
    except Exception as failure:
        failure.__suppress_context__ = True
        del failure
        _hook_failed(thread)
    finally:
        # The traceback holds this frame: drop it so the thread's objects can go.
        del record, exc_value, exc_tb
