"""Process pools (``multiprocessing.pool``): :class:`Pool` and :class:`ThreadPool`.

Beyond the stdlib: a worker that dies while running a task (a signal, ``os._exit``, a
crash) fails that task's result with :exc:`WorkerLostError`, naming the worker's pid and
exit code or signal, and is replaced, where the stdlib's ``get()`` would wait for ever;
``imap``/``imap_unordered`` take *buffersize* (3.15's) to bound how far the input is read
ahead of the results taken; results still pending when the pool is terminated fail.
"""

from __future__ import annotations

from . import _native
from ._pool import (
    CLOSE,
    RUN,
    TERMINATE,
    ApplyResult,
    AsyncResult,
    ExceptionWithTraceback,
    IMapIterator,
    IMapUnorderedIterator,
    MapResult,
    MaybeEncodingError,
    Pool,
    RemoteTraceback,
    ThreadPool,
    WorkerLostError,
    mapstar,
    rebuild_exc,
    starmapstar,
    worker,
)

# 3.14's public names (its own __all__ lists only Pool and ThreadPool), its pool states,
# and treadle's WorkerLostError.
__all__ = [
    "CLOSE",
    "RUN",
    "TERMINATE",
    "ApplyResult",
    "AsyncResult",
    "ExceptionWithTraceback",
    "IMapIterator",
    "IMapUnorderedIterator",
    "MapResult",
    "MaybeEncodingError",
    "Pool",
    "RemoteTraceback",
    "ThreadPool",
    "WorkerLostError",
    "mapstar",
    "rebuild_exc",
    "starmapstar",
    "worker",
]

_native.publish(globals())
