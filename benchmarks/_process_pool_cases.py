"""ProcessPoolExecutor cases: treadle.futures against concurrent.futures (and peers).

Issue 16 targets. Every pool has 2 workers of the forkserver method, started (one task
each) before the clock starts, and is shut down after it stops; the task is ``abs``, a
builtin, so that the figures are the pool's own cost.

* ``PPE map no-op chunksize=1``: ``list(ex.map(abs, range(n)))``, per item (at least
  3x the stdlib's throughput).
* ``PPE 10k submits then results``: ``n`` submits, then every ``result()``, per task
  (at least 3x).
* ``PPE submit+result round trip``: one task at a time (at least the stdlib's speed).
* ``PPE replace a killed worker``: a task kills its worker (``os._exit``), then the
  next task's result: treadle's pool with ``survive_worker_death=True`` replaces the
  worker; the stdlib's pool breaks, so its side makes a new pool. Reported, no target.
* The map case again against loky's ``get_reusable_executor`` and pebble's
  ``ProcessPool`` when they are importable (the "stdlib" column is then the peer).
"""

from __future__ import annotations

import concurrent.futures as std_futures
import importlib.util
import multiprocessing as std_mp
import os
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import multiprocessing as tr_mp
from treadle.futures import process as tr_process

_WORKERS = 2


def _std_pool() -> Any:
    return std_futures.ProcessPoolExecutor(_WORKERS, mp_context=std_mp.get_context("forkserver"))


def _tr_pool(**options: Any) -> Any:
    return tr_process.ProcessPoolExecutor(
        _WORKERS, mp_context=tr_mp.get_context("forkserver"), **options
    )


def _warm(ex: Any) -> None:
    for future in [ex.submit(abs, -1) for _ in range(_WORKERS * 2)]:
        future.result()


def _map(make: Callable[[], Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        with make() as ex:
            _warm(ex)
            t0 = time.perf_counter()
            for _ in ex.map(abs, range(n)):
                pass
            return time.perf_counter() - t0

    return timed


def _submits(make: Callable[[], Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        with make() as ex:
            _warm(ex)
            t0 = time.perf_counter()
            futures = [ex.submit(abs, i) for i in range(n)]
            for future in futures:
                future.result()
            return time.perf_counter() - t0

    return timed


def _round_trip(make: Callable[[], Any]) -> Callable[[int], float]:
    def timed(n: int) -> float:
        with make() as ex:
            _warm(ex)
            submit = ex.submit
            t0 = time.perf_counter()
            for i in range(n):
                submit(abs, i).result()
            return time.perf_counter() - t0

    return timed


def _std_replace(n: int) -> float:
    elapsed = 0.0
    for _ in range(n):
        ex = _std_pool()
        _warm(ex)
        t0 = time.perf_counter()
        ex.submit(os._exit, 1).exception()
        ex.shutdown()
        with _std_pool() as fresh:
            fresh.submit(abs, 1).result()
        elapsed += time.perf_counter() - t0
    return elapsed


def _tr_replace(n: int) -> float:
    with _tr_pool(survive_worker_death=True) as ex:
        _warm(ex)
        t0 = time.perf_counter()
        for _ in range(n):
            ex.submit(os._exit, 1).exception()
            ex.submit(abs, 1).result()
        return time.perf_counter() - t0


def _loky_pool() -> Any:
    import loky  # type: ignore[import-not-found,unused-ignore]

    return loky.ProcessPoolExecutor(_WORKERS)


class _PebbleAsExecutor:
    """pebble's ProcessPool with the part of the Executor API the cases use."""

    def __init__(self) -> None:
        import pebble  # type: ignore[import-not-found,unused-ignore]

        self._pool = pebble.ProcessPool(max_workers=_WORKERS)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._pool.schedule(fn, args=args)

    def map(self, fn: Callable[..., Any], items: Any) -> Any:
        return self._pool.map(fn, items, chunksize=1).result()

    def __enter__(self) -> _PebbleAsExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.close()
        self._pool.join()


CASES: list[Case] = [
    Case(
        "PPE map no-op chunksize=1 (per item)",
        _map(_std_pool),
        _map(_tr_pool),
        20_000,
        target=3.0,
    ),
    Case(
        "PPE 10k submits then results (per task)",
        _submits(_std_pool),
        _submits(_tr_pool),
        10_000,
        target=3.0,
    ),
    Case(
        "PPE submit+result round trip",
        _round_trip(_std_pool),
        _round_trip(_tr_pool),
        2_000,
        target=1.0,
    ),
    Case(
        "PPE replace a killed worker",
        _std_replace,
        _tr_replace,
        5,
        target=0.0,
        note="stdlib: the pool breaks, a new one is made; treadle: survive_worker_death",
    ),
]

for _peer, _make in (("loky", _loky_pool), ("pebble", _PebbleAsExecutor)):
    if importlib.util.find_spec(_peer) is not None:
        CASES.append(
            Case(
                f"PPE map no-op chunksize=1 vs {_peer} (per item)",
                _map(_make),
                _map(_tr_pool),
                20_000,
                target=1.0,
                note=f"the stdlib column is {_peer}",
            )
        )
