"""treadle.sched against the stdlib's ``sched``.

Issue targets: ``enter`` + ``run`` of 10,000 events at least the stdlib's speed;
``cancel`` of 2,000 events at least 20x faster.
"""

from __future__ import annotations

import sched
import time
from typing import Any

from _harness import Case

from treadle import sched as tsched


def _nothing(*args: object) -> None:
    pass


def _enter_run(make: Any, delayfunc: Any) -> Any:
    # n events entered in scrambled order, all due at once; delayfunc as given.
    def run(n: int) -> float:
        s = make(time.monotonic, delayfunc)
        delays = [((i * 7919) % n) * -1e-9 for i in range(n)]
        enter = s.enter
        t0 = time.perf_counter()
        for d in delays:
            enter(d, 1, _nothing)
        s.run()
        return time.perf_counter() - t0

    return run


def _cancel(make: Any) -> Any:
    # n events entered (untimed), then all cancelled in scrambled order (timed).
    def run(n: int) -> float:
        s = make(time.monotonic, _nothing)
        events = [s.enterabs(float(i), 1, _nothing) for i in range(n)]
        order = [events[(i * 7919) % n] for i in range(n)]
        cancel = s.cancel
        t0 = time.perf_counter()
        for e in order:
            cancel(e)
        return time.perf_counter() - t0

    return run


CASES = [
    Case(
        "enter+run 10,000 events (delayfunc no-op)",
        _enter_run(sched.scheduler, _nothing),
        _enter_run(tsched.scheduler, _nothing),
        n=10_000,
        target=1.0,
    ),
    Case(
        "enter+run 10,000 events (time.sleep)",
        _enter_run(sched.scheduler, time.sleep),
        _enter_run(tsched.scheduler, time.sleep),
        n=10_000,
        target=1.0,
        note="run() calls delayfunc(0) after each event: the sleep dominates",
    ),
    Case(
        "cancel 2,000 events",
        _cancel(sched.scheduler),
        _cancel(tsched.scheduler),
        n=2_000,
        target=20.0,
    ),
]
