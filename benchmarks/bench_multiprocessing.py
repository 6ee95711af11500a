"""treadle.multiprocessing against the stdlib's multiprocessing, per start method.

Issue 13 targets: ``Process`` start+join with ``spawn`` at least 1.5x the stdlib's
speed (the stdlib spends about 49 ms where ``python -I -S -c pass`` takes 10 ms: most
of it is the child importing multiprocessing); ``fork`` and ``forkserver`` at least the
stdlib's. Each side starts a process, waits for it to end, and repeats. The target is a
builtin (``os.getpid``), pickled by reference, so the child imports nothing for it; both
sides' spawned children re-run the main script (``benchmarks/run.py``) as
``__mp_main__``, as any program's do. The first process of each side (warm-up) pays for
starting its forkserver and resource tracker. The connection cases come from
``_mp_connection_cases.py``.
"""

from __future__ import annotations

import multiprocessing as std_mp
import os
import time
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import multiprocessing as tr_mp


def _start_join(module: Any, method: str) -> Callable[[int], float]:
    ctx = module.get_context(method)

    def timed(n: int) -> float:
        process_class, target = ctx.Process, os.getpid
        t0 = time.perf_counter()
        for _ in range(n):
            p = process_class(target=target)
            p.start()
            p.join()
        elapsed = time.perf_counter() - t0
        if p.exitcode != 0:
            raise RuntimeError(f"{module.__name__} {method} child exited with {p.exitcode}")
        return elapsed

    return timed


_TARGETS = {"spawn": 1.5, "forkserver": 1.0, "fork": 1.0}
_COUNTS = {"spawn": 10, "forkserver": 20, "fork": 40}

CASES = [
    Case(
        f"Process start+join ({method})",
        _start_join(std_mp, method),
        _start_join(tr_mp, method),
        n=_COUNTS[method],
        target=_TARGETS[method],
        note="issue 13",
    )
    for method in ("spawn", "forkserver", "fork")
]

try:
    from _mp_connection_cases import CASES as _CONN
except ImportError:  # pragma: no cover - the connection cases are another file's
    _CONN = []

CASES += _CONN
