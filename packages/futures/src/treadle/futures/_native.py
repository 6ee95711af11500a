"""What treadle.futures takes from the interpreter and the stdlib's internals, in one place.

Everything here depends on the Python version or on a private name of the standard
library; no other module of the package tests ``sys.version_info`` or reaches for a
private stdlib name.
"""

from __future__ import annotations

import builtins
import concurrent.futures._base as _std_base
import os
import sys

from treadle import threading as _threading

__all__ = ["Error", "TimeoutError", "default_max_workers", "register_atexit"]

# threading's hook for what must run at exit before atexit handlers (joining the pools'
# workers), private in the stdlib and, as its mirror, in treadle.threading.
register_atexit = _threading._register_atexit

# The stdlib's base class of CancelledError, TimeoutError (before 3.11), InvalidStateError
# and BrokenExecutor; CPython's tests and some programs catch it by this name.
Error = _std_base.Error

if sys.version_info >= (3, 11):
    # One class for every timeout since 3.11: concurrent.futures.TimeoutError and
    # asyncio.TimeoutError are the builtin.
    TimeoutError = builtins.TimeoutError
else:
    # 3.10 has three unrelated timeout classes. A treadle timeout must be caught by an
    # ``except`` clause written for any of them, and asyncio (which turns the stdlib's
    # own class into its own by identity, in wrap_future and run_in_executor) must see
    # its own class in it too, so this one derives from all three.
    import asyncio.exceptions

    class TimeoutError(
        _std_base.TimeoutError, asyncio.exceptions.TimeoutError, builtins.TimeoutError
    ):
        """The operation exceeded the given deadline.

        On Python 3.10 a subclass of ``concurrent.futures.TimeoutError``,
        ``asyncio.TimeoutError`` and the builtin ``TimeoutError`` at once (since 3.11
        they are all the builtin, and so is this name).
        """


def _cpu_count() -> int | None:
    # 3.13 added os.process_cpu_count() (the CPUs this process may run on), which the
    # 3.13+ ThreadPoolExecutor sizes itself by; before 3.13 the affinity mask gives it.
    counter = getattr(os, "process_cpu_count", None)
    if counter is not None:
        count: int | None = counter()
        return count
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            pass
    return os.cpu_count()


def default_max_workers() -> int:
    """``min(32, (process cpu count or 1) + 4)``: the 3.13+ default pool size."""
    return min(32, (_cpu_count() or 1) + 4)
