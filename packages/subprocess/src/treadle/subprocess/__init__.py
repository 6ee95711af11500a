"""The Python 3.14 ``subprocess`` API on CPython 3.10 and later (POSIX).

Beyond the stdlib (opt-in): ``Popen(..., tee=True | callable)`` and ``run(..., tee=...)``
stream output while capturing it, ``run(..., timeout=..., kill_tree=True)`` kills the whole
process group on timeout, and ``Popen.wait(timeout)`` sleeps on a pidfd on Linux.
"""

import os  # noqa: F401 - mock.patch('treadle.subprocess.os.waitpid') works as on the stdlib's

from treadle.thread_core.support import publish as _publish

from . import _native, _reap
from ._api import (
    CompletedProcess,
    call,
    check_call,
    check_output,
    getoutput,
    getstatusoutput,
    list2cmdline,
    run,
)
from ._communicate import DefaultSelector as _PopenSelector  # noqa: F401 - swapped by tests
from ._errors import CalledProcessError, SubprocessError, TimeoutExpired
from ._fds import DEVNULL, PIPE, STDOUT
from ._flags import args_from_interpreter_flags as _args_from_interpreter_flags  # noqa: F401
from ._flags import optim_args_from_interpreter_flags as _optim_args_from_interpreter_flags  # noqa: F401
from ._popen import Popen

__all__ = [
    "DEVNULL",
    "PIPE",
    "STDOUT",
    "CalledProcessError",
    "CompletedProcess",
    "Popen",
    "SubprocessError",
    "TimeoutExpired",
    "call",
    "check_call",
    "check_output",
    "getoutput",
    "getstatusoutput",
    "list2cmdline",
    "run",
]

# Private names that test.support and CPython's test_subprocess look up on the module.
_active = _reap.forgotten  # Popen objects whose running child was dropped: reaped later
_cleanup = _reap.reap_forgotten
_USE_POSIX_SPAWN = _native.USE_POSIX_SPAWN
_USE_VFORK = True  # 3.11-3.13 knob; vfork is always allowed here
_HAVE_POSIX_SPAWN_CLOSEFROM = _native.HAVE_POSIX_SPAWN_CLOSEFROM
_can_fork_exec = _native.CAN_FORK_EXEC
_fork_exec = _native.native_fork_exec
_posixsubprocess = _native.posixsubprocess
_mswindows = _native.MSWINDOWS

_publish(globals())
