"""Pool cases of treadle.multiprocessing against the stdlib's multiprocessing.pool.

Appended to ``CASES`` by ``bench_multiprocessing.py``. Issue 15 targets:

* ``Pool.map no-op, chunksize=1``: ``pool.map(abs, range(n), chunksize=1)`` on two
  workers; at least 1.5x the stdlib's throughput (the stdlib spends about 32 us per
  item) and ahead of billiard's.
* ``imap_unordered``: ``for _ in pool.imap_unordered(abs, range(n))`` (chunksize 1).
* ``apply_async round trip``: ``pool.apply_async(abs, (-1,)).get()``, one at a time.

Both sides start their pool (forkserver workers, the 3.14 default) and warm it up
before the clock starts, and terminate it after. The task is a builtin, pickled by
reference, so the workers import nothing for it.

Peers: when ``billiard`` or ``mpire`` is importable, the map case runs once more with the
peer in the stdlib's column (the case's name and note say so); a missing peer is left
out. The bench environment needs ``billiard`` and ``mpire`` installed for them.
"""

from __future__ import annotations

import importlib.util
import multiprocessing as std_multiprocessing
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import multiprocessing as tr_multiprocessing

_WORKERS = 2


def _stdlib_pool() -> Any:
    return std_multiprocessing.get_context("forkserver").Pool(_WORKERS)


def _treadle_pool() -> Any:
    return tr_multiprocessing.get_context("forkserver").Pool(_WORKERS)


def _billiard_pool() -> Any:
    import billiard  # type: ignore[import-not-found,unused-ignore]

    return billiard.Pool(_WORKERS)


def _timed_map(make: Callable[[], Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        pool = make()
        try:
            pool.map(abs, range(_WORKERS * 4), chunksize=1)  # the workers are up
            t0 = time.perf_counter()
            pool.map(abs, range(n), chunksize=1)
            return time.perf_counter() - t0
        finally:
            pool.terminate()
            pool.join()

    return timed


def _timed_mpire_map(n: int) -> float:
    from mpire import WorkerPool  # type: ignore[import-not-found,unused-ignore]

    with WorkerPool(n_jobs=_WORKERS, start_method="forkserver") as pool:
        pool.map(abs, range(_WORKERS * 4), chunk_size=1)
        t0 = time.perf_counter()
        pool.map(abs, range(n), chunk_size=1)
        return time.perf_counter() - t0


def _timed_imap_unordered(make: Callable[[], Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        pool = make()
        try:
            pool.map(abs, range(_WORKERS * 4), chunksize=1)
            t0 = time.perf_counter()
            for _ in pool.imap_unordered(abs, range(n)):
                pass
            return time.perf_counter() - t0
        finally:
            pool.terminate()
            pool.join()

    return timed


def _timed_apply(make: Callable[[], Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        pool = make()
        try:
            pool.map(abs, range(_WORKERS * 4), chunksize=1)
            apply_async = pool.apply_async
            t0 = time.perf_counter()
            for _ in range(n):
                apply_async(abs, (-1,)).get()
            return time.perf_counter() - t0
        finally:
            pool.terminate()
            pool.join()

    return timed


_MAP_NAME = "Pool.map no-op, 2 workers, chunksize=1"

CASES = [
    Case(_MAP_NAME, _timed_map(_stdlib_pool), _timed_map(_treadle_pool), n=20000, target=1.5),
    Case(
        "Pool.imap_unordered no-op, 2 workers",
        _timed_imap_unordered(_stdlib_pool),
        _timed_imap_unordered(_treadle_pool),
        n=20000,
    ),
    Case(
        "Pool.apply_async round trip",
        _timed_apply(_stdlib_pool),
        _timed_apply(_treadle_pool),
        n=2000,
    ),
]

if importlib.util.find_spec("billiard") is not None:
    CASES.append(
        Case(
            _MAP_NAME + " (vs billiard)",
            _timed_map(_billiard_pool),
            _timed_map(_treadle_pool),
            n=20000,
            target=1.0,
            note="the stdlib column is billiard.Pool",
        )
    )
if importlib.util.find_spec("mpire") is not None:
    CASES.append(
        Case(
            _MAP_NAME + " (vs mpire)",
            _timed_mpire_map,
            _timed_map(_treadle_pool),
            n=20000,
            note="the stdlib column is mpire.WorkerPool",
        )
    )
