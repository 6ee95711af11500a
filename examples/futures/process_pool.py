"""ProcessPoolExecutor: the 3.14 API, then a pool that outlives a dead worker and a hung task."""

from __future__ import annotations

import asyncio
import os
import time

from treadle.futures import TimeoutError as FuturesTimeout
from treadle.futures.process import ProcessPoolExecutor, WorkerDiedError


def square(x: int) -> int:
    return x * x


def crash() -> None:
    os._exit(3)  # the worker dies, as a segfault or the OOM killer would end it


def hang() -> None:
    time.sleep(3600)


async def with_asyncio(pool: ProcessPoolExecutor) -> int:
    return await asyncio.get_running_loop().run_in_executor(pool, square, 12)


def main() -> None:
    with ProcessPoolExecutor(2) as pool:
        print("map:", list(pool.map(square, range(8), chunksize=2)))
        print("run_in_executor:", asyncio.run(with_asyncio(pool)))

    with ProcessPoolExecutor(2, survive_worker_death=True, task_timeout=0.5) as pool:
        died = pool.submit(crash)
        hung = pool.submit(hang)
        others = pool.map(square, range(4))
        error = died.exception()
        assert isinstance(error, WorkerDiedError)
        print(f"dead worker: pid {error.pid}, exit code {error.exitcode}, only its task failed")
        try:
            hung.result()
        except FuturesTimeout as exc:
            print("hung task:", exc)
        print("the others:", list(others), "and the pool goes on:", pool.submit(square, 9).result())


if __name__ == "__main__":
    main()
