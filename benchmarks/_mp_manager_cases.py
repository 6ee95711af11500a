"""Manager cases of treadle.multiprocessing against the stdlib's multiprocessing.managers.

For ``bench_multiprocessing.py`` to append to its ``CASES``. Issue 15 targets: at least
the stdlib's speed for each.

* ``manager dict get/set round trip``: one ``d[key] = i`` and one ``d[key]`` on a
  ``SyncManager().dict()`` proxy, each a request to the server process and its reply.
  The manager is started (fork) before the clock starts and shut down after it stops.
* ``manager start+shutdown``: ``SyncManager(ctx=...)``, ``start()``, ``shutdown()``,
  with the ``fork`` and ``forkserver`` start methods (the forkserver is warmed up
  before the clock starts).
"""

from __future__ import annotations

import multiprocessing as std_mp
import multiprocessing.managers as std_managers
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import multiprocessing as tr_mp
from treadle.multiprocessing import managers as tr_managers

_SIDES: dict[str, tuple[Any, Any]] = {
    "stdlib": (std_mp, std_managers),
    "treadle": (tr_mp, tr_managers),
}


def _round_trip(side: str) -> Callable[[int], float]:
    mp, managers = _SIDES[side]

    def timed(n: int) -> float:
        with managers.SyncManager(ctx=mp.get_context("fork")) as manager:
            shared = manager.dict()
            shared["key"] = 0  # the connection of this thread is made here
            t0 = time.perf_counter()
            for i in range(n):
                shared["key"] = i
                shared["key"]
            elapsed = time.perf_counter() - t0
            del shared
        return elapsed

    return timed


def _start_shutdown(side: str, method: str) -> Callable[[int], float]:
    mp, managers = _SIDES[side]

    def timed(n: int) -> float:
        ctx = mp.get_context(method)
        warm = ctx.Process(target=time.monotonic)  # starts the forkserver, if any
        warm.start()
        warm.join()
        t0 = time.perf_counter()
        for _ in range(n):
            manager = managers.SyncManager(ctx=ctx)
            manager.start()
            manager.shutdown()
        return time.perf_counter() - t0

    return timed


CASES = [
    Case(
        "manager dict get/set round trip",
        _round_trip("stdlib"),
        _round_trip("treadle"),
        n=3000,
        note="issue 15",
    ),
    *(
        Case(
            f"manager start+shutdown ({method})",
            _start_shutdown("stdlib", method),
            _start_shutdown("treadle", method),
            n=10,
            note="issue 15",
        )
        for method in ("fork", "forkserver")
    ),
]
