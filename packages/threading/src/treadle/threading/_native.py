"""What treadle.threading needs from below the public APIs, and what differs by version.

Everything else in the package is plain Python on public names; this module is the one
place that asks which Python it runs on or reaches for a private name:

* thread handles: from 3.13 the interpreter makes a thread's handle (and there is no
  ``_tstate_lock``); before, thread-core's handle waits on a sentinel lock, which code
  written for 3.12 and earlier finds as ``Thread._tstate_lock``. A handle must exist
  before the thread starts, and ``treadle.thread_core`` makes one only under the
  ``_thread`` name ``_ThreadHandle``;
* the OS thread name (``thread_core.set_name`` exists where the platform has one);
* ``sys.flags.thread_inherit_context`` (3.14) and the all-threads trace and profile
  setters of ``sys`` (3.12).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from treadle import thread_core

__all__ = [
    "INHERIT_CONTEXT",
    "ThreadHandle",
    "set_os_name",
    "setprofile_running_threads",
    "settrace_running_threads",
    "tstate_lock",
]

ThreadHandle: Callable[[], Any] = thread_core._ThreadHandle
"""Make the handle of a thread not started yet (``_thread._ThreadHandle`` on 3.13+)."""

set_os_name: Callable[[str], None] | None = getattr(thread_core, "set_name", None)
"""Name the calling OS thread, or None where the platform cannot."""

INHERIT_CONTEXT = bool(getattr(sys.flags, "thread_inherit_context", False))
"""3.14's ``-X thread_inherit_context``: threads start in a copy of the caller's context."""

_NATIVE_HANDLES = sys.version_info >= (3, 13)


def tstate_lock(handle: Any) -> Any:
    """Return what 3.12 and earlier called the thread's ``_tstate_lock``, or None.

    That is the lock released when the thread's state dies: thread-core's handle waits
    on it before 3.13. None from 3.13, and before the start and after the end.
    """
    if _NATIVE_HANDLES or handle.is_done():
        return None
    return getattr(handle, "_sentinel", None)


def _running_threads_setter(name: str, fallback: Callable[[Any], None]) -> Callable[[Any], None]:
    # 3.12 added setters that reach every running thread; before, only the caller's
    # own hook can be set.
    setter: Callable[[Any], None] | None = getattr(sys, name, None)
    return fallback if setter is None else setter


settrace_running_threads = _running_threads_setter("_settraceallthreads", sys.settrace)
"""Set the trace function of every running thread (3.12+), else of the calling one."""
setprofile_running_threads = _running_threads_setter("_setprofileallthreads", sys.setprofile)
"""Set the profile function of every running thread (3.12+), else of the calling one."""
