"""treadle.futures against the stdlib's ``concurrent.futures``.

Targets (issue 6): submit+result of a no-op at least the stdlib's speed (also with a
timeout, the path through thread_core.support's timeout rule); a batch of 10,000 submits
then results at least 2x the stdlib's throughput; ``map`` over 100,000 items at least 2x.
Each side uses a pool of 4 threads, started (set-up) before the timing.

Run directly (``python benchmarks/bench_futures.py --memory [N]``) to measure with
tracemalloc the peak memory of ``map(buffersize=64)`` over N items (default 10 million)
against the same over N/100 items: flat means both peaks are about the same.
"""

from __future__ import annotations

import argparse
import concurrent.futures as std
import importlib.util
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import futures as ours

__all__ = ["CASES", "map_peak_memory"]

Timed = Callable[[int], float]
WORKERS = 4


def _noop() -> None:
    return None


def _ident(x: int) -> int:
    return x


def _started(module: Any) -> Any:
    executor = module.ThreadPoolExecutor(WORKERS)
    for future in [executor.submit(_noop) for _ in range(WORKERS * 4)]:
        future.result()
    return executor


def _submit_result(module: Any, timeout: float | None = None) -> Timed:
    def run(n: int) -> float:
        executor = _started(module)
        submit = executor.submit
        try:
            t0 = time.perf_counter()
            for _ in range(n):
                submit(_noop).result(timeout)
            return time.perf_counter() - t0
        finally:
            executor.shutdown()

    return run


def _batch(module: Any) -> Timed:
    def run(n: int) -> float:
        executor = _started(module)
        submit = executor.submit
        try:
            t0 = time.perf_counter()
            fs = [submit(_noop) for _ in range(n)]
            for future in fs:
                future.result()
            return time.perf_counter() - t0
        finally:
            executor.shutdown()

    return run


def _map(module: Any) -> Timed:
    def run(n: int) -> float:
        executor = _started(module)
        try:
            t0 = time.perf_counter()
            for _ in executor.map(_ident, range(n)):
                pass
            return time.perf_counter() - t0
        finally:
            executor.shutdown()

    return run


CASES: list[Case] = [
    Case(
        "submit(no-op).result(), one at a time",
        _submit_result(std),
        _submit_result(ours),
        n=20_000,
        target=1.0,
    ),
    Case(
        "submit(no-op).result(timeout=60), one at a time",
        _submit_result(std, 60.0),
        _submit_result(ours, 60.0),
        n=20_000,
        target=1.0,
    ),
    Case(
        "10,000 submits, then 10,000 results",
        _batch(std),
        _batch(ours),
        n=10_000,
        target=2.0,
    ),
    Case(
        "map() over 100,000 items",
        _map(std),
        _map(ours),
        n=100_000,
        target=2.0,
    ),
]
if importlib.util.find_spec("distributed") is not None:  # treadle-futures[distributed]
    from _distributed_cases import CASES as _CLUSTER_CASES

    CASES += _CLUSTER_CASES
if importlib.util.find_spec("treadle.multiprocessing") is not None:  # treadle-futures[process]
    from _process_pool_cases import CASES as _PROCESS_CASES

    CASES += _PROCESS_CASES


def map_peak_memory(module: Any, n: int, buffersize: int = 64) -> int:
    """Peak bytes traced while iterating ``map(buffersize=...)`` over *n* items."""
    with module.ThreadPoolExecutor(WORKERS) as executor:
        tracemalloc.start()
        try:
            for _ in executor.map(_ident, range(n), buffersize=buffersize):
                pass
            peak: int = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return peak


def main() -> None:
    """Print the peak memory of map(buffersize=64) at N/100 and N items, both sides."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--memory", type=int, nargs="?", const=10_000_000, required=True)
    n = parser.parse_args().memory
    for name, module in (("stdlib", std), ("treadle", ours)):
        if "buffersize" not in module.Executor.map.__code__.co_varnames:
            print(f"{name}: no map(buffersize=) before 3.14")
            continue
        small = map_peak_memory(module, n // 100)
        large = map_peak_memory(module, n)
        print(
            f"{name}: map(buffersize=64) peak {small:,} B over {n // 100:,} items, "
            f"{large:,} B over {n:,} items"
        )


if __name__ == "__main__":
    main()
