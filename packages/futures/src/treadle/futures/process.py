"""``concurrent.futures.process``: ProcessPoolExecutor, from the ``[process]`` extra.

Needs treadle-multiprocessing (``pip install 'treadle-futures[process]'``); importing
:mod:`treadle.futures` does not import this module until ``ProcessPoolExecutor`` is
first used. See :class:`ProcessPoolExecutor` for the 3.14 API and treadle's opt-ins.
"""

from __future__ import annotations

from . import _process, _process_pool
from ._process import BrokenProcessPool, ProcessPoolExecutor, WorkerDiedError

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor", "WorkerDiedError"]

ProcessPoolExecutor.__module__ = __name__
WorkerDiedError.__module__ = __name__

# Read by CPython's tests: the ``__cause__`` of an exception raised in a worker.
_RemoteTraceback = _process_pool._RemoteTraceback
_TERMINATE = _process._TERMINATE
_KILL = _process._KILL
_check_system_limits = _process._check_system_limits
# The dispatcher's wake-up pipe (some programs and CPython's tests subclass it).
_ThreadWakeup = _process_pool._ThreadWakeup
