"""``concurrent.futures.process``: ProcessPoolExecutor, from the ``[process]`` extra.

Needs treadle-multiprocessing (``pip install 'treadle-futures[process]'``); importing
:mod:`treadle.futures` does not import this module until ``ProcessPoolExecutor`` is
first used. See :class:`ProcessPoolExecutor` for the 3.14 API and treadle's opt-ins.
"""

from __future__ import annotations

from ._process import (
    BrokenProcessPool,
    ProcessPoolExecutor,
    WorkerDiedError,  # read by CPython's tests
)

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor", "WorkerDiedError"]

ProcessPoolExecutor.__module__ = __name__
WorkerDiedError.__module__ = __name__
