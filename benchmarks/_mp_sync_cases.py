"""Synchronisation cases of treadle.multiprocessing against the stdlib's multiprocessing.

Appended to ``CASES`` by ``bench_multiprocessing.py``. Issue 14 target: at least the
stdlib's speed for ``Lock`` acquire+release. Every object is made by the ``spawn``
context of each side (a named semaphore, as with the default ``forkserver``).

* ``Lock acquire+release``: uncontended, in one process.
* ``Lock as a context manager``: ``with lock: pass``, uncontended.
* ``Event set+is_set+clear``: the three calls, each through the event's condition lock.
"""

from __future__ import annotations

import multiprocessing as std_mp
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import multiprocessing as tr_mp


def _acquire_release(module: Any) -> Callable[[int], float]:
    def timed(n: int) -> float:
        lock = module.get_context("spawn").Lock()
        acquire, release = lock.acquire, lock.release
        t0 = time.perf_counter()
        for _ in range(n):
            acquire()
            release()
        return time.perf_counter() - t0

    return timed


def _with_lock(module: Any) -> Callable[[int], float]:
    def timed(n: int) -> float:
        lock = module.get_context("spawn").Lock()
        t0 = time.perf_counter()
        for _ in range(n):
            with lock:
                pass
        return time.perf_counter() - t0

    return timed


def _event_cycle(module: Any) -> Callable[[int], float]:
    def timed(n: int) -> float:
        event = module.get_context("spawn").Event()
        t0 = time.perf_counter()
        for _ in range(n):
            event.set()
            event.is_set()
            event.clear()
        return time.perf_counter() - t0

    return timed


CASES = [
    Case(
        "Lock acquire+release (uncontended)",
        _acquire_release(std_mp),
        _acquire_release(tr_mp),
        n=200_000,
        note="issue 14",
    ),
    Case(
        "Lock with-statement (uncontended)",
        _with_lock(std_mp),
        _with_lock(tr_mp),
        n=200_000,
    ),
    Case(
        "Event set+is_set+clear",
        _event_cycle(std_mp),
        _event_cycle(tr_mp),
        n=20_000,
    ),
]
