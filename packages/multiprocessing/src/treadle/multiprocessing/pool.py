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
    ApplyResult,
    AsyncResult,
    IMapIterator,
    IMapUnorderedIterator,
    MapResult,
    MaybeEncodingError,
    Pool,
    RemoteTraceback,
    ThreadPool,
    WorkerLostError,
)

__all__ = ["Pool", "ThreadPool", "WorkerLostError"]

# Not in the stdlib's __all__ either, but importable from it under these names.
_EXTRA = (
    ApplyResult,
    AsyncResult,
    IMapIterator,
    IMapUnorderedIterator,
    MapResult,
    MaybeEncodingError,
    RemoteTraceback,
)

_native.publish(globals())
for _cls in _EXTRA:
    _cls.__module__ = __name__
del _cls
