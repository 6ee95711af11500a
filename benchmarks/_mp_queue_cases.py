"""Queue cases of treadle.multiprocessing against the stdlib's multiprocessing.queues.

Issue 14 target: at least the stdlib's throughput for each.

* ``Queue put+get, small items``: the parent puts n small objects on a ``Queue``; a
  child (fork context, started before the clock) gets them all and answers on a second
  queue; the clock stops at the answer.
* ``Queue put+get, 1 MiB items``: the same with 1 MiB ``bytes`` items.

Both sides run the same code with their own module's context.
"""

from __future__ import annotations

import multiprocessing as std_mp
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import multiprocessing as tr_mp

_SMALL = ("task", 42, {"key": [1.5, None]})
_MIB = b"\x5a" * (1 << 20)


def _drain(q: Any, done: Any, n: int) -> None:
    for _ in range(n):
        q.get()
    done.put("done")


def _throughput(module: Any, item: object) -> Callable[[int], float]:
    def timed(n: int) -> float:
        import time

        ctx = module.get_context("fork")
        q, done = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=_drain, args=(q, done, n))
        child.start()
        put = q.put
        t0 = time.perf_counter()
        for _ in range(n):
            put(item)
        assert done.get() == "done"
        elapsed = time.perf_counter() - t0
        child.join()
        for each in (q, done):
            each.close()
            each.join_thread()
        return elapsed

    return timed


CASES = [
    Case(
        "Queue put+get, small items (2 processes)",
        _throughput(std_mp, _SMALL),
        _throughput(tr_mp, _SMALL),
        n=20000,
        note="issue 14",
    ),
    Case(
        "Queue put+get, 1 MiB items (2 processes)",
        _throughput(std_mp, _MIB),
        _throughput(tr_mp, _MIB),
        n=200,
        note="issue 14",
    ),
]
