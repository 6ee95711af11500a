"""``concurrent.futures.process``: ProcessPoolExecutor, from the ``[process]`` extra.

The process pool is built on treadle-multiprocessing (``pip install
'treadle-futures[process]'``) and is not part of this release. The names exist, so that
code (and CPython's tests) that only mention them import fine, but creating a
:class:`ProcessPoolExecutor` raises ImportError naming the extra, and
:func:`_check_system_limits` raises NotImplementedError, which is what code probing for
process pools expects when they are unavailable.
"""

from __future__ import annotations

from typing import NoReturn

from ._base import BrokenExecutor, Executor
from ._lazy import missing

__all__ = ["BrokenProcessPool", "ProcessPoolExecutor"]

_DIST = "treadle-multiprocessing"


class BrokenProcessPool(BrokenExecutor):
    """Raised when a process pool's worker dies (the pool is then unusable)."""


class ProcessPoolExecutor(Executor):
    """Stand-in for the process pool: needs ``pip install 'treadle-futures[process]'``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Raise ImportError naming the ``[process]`` extra."""
        raise missing("ProcessPoolExecutor", "process", _DIST)


def _check_system_limits() -> NoReturn:
    raise NotImplementedError(str(missing("ProcessPoolExecutor", "process", _DIST)))
