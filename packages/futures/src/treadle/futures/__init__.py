"""treadle.futures: the Python 3.14 ``concurrent.futures`` on CPython 3.10 and later.

``Future``, ``wait``, ``as_completed``, ``Executor`` and ``ThreadPoolExecutor``, built on
treadle's threading and contextvars. ``Future`` and ``ThreadPoolExecutor`` derive from the
stdlib's classes (asyncio checks for them) with all behaviour treadle's own. The process
and interpreter executors load lazily, from the ``[process]`` and ``[interpreters]``
extras: importing this module never imports multiprocessing.
"""

from __future__ import annotations

from treadle.thread_core import support as _support

from ._base import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    BrokenExecutor,
    CancelledError,
    Executor,
    Future,
    InvalidStateError,
    TimeoutError,
    as_completed,
    wait,
)
from ._lazy import LAZY_NAMES as _LAZY_NAMES
from ._lazy import lazy_attribute as _lazy_attribute
from ._thread import ThreadPoolExecutor

__all__ = [
    "ALL_COMPLETED",
    "FIRST_COMPLETED",
    "FIRST_EXCEPTION",
    "BrokenExecutor",
    "CancelledError",
    "Executor",
    "Future",
    "InvalidStateError",
    "ThreadPoolExecutor",
    "TimeoutError",
    "as_completed",
    "wait",
]


def __getattr__(name: str) -> object:
    return _lazy_attribute(__name__, name)


def __dir__() -> list[str]:
    # The lazily loaded executors are listed, though not in __all__: they are stand-ins
    # until their extras are released (see _lazy), and a star import would load them.
    return sorted(set(globals()) | _LAZY_NAMES)


_support.publish(globals())
