"""A thread pool beside asyncio: submit, map with a bounded read-ahead, as_completed."""

from __future__ import annotations

import asyncio
import concurrent.futures

from treadle import futures


def square(x: int) -> int:
    return x * x


async def from_asyncio(pool: futures.ThreadPoolExecutor) -> int:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, square, 12)


def main() -> None:
    with futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="demo") as pool:
        assert isinstance(pool, concurrent.futures.ThreadPoolExecutor)  # asyncio accepts it
        first = pool.submit(square, 7)
        print("submit:", first.result())
        # buffersize (3.14): at most 8 calls in flight, however long the input is.
        total = sum(pool.map(square, range(1_000), buffersize=8))
        print("map(buffersize=8) sum of squares below 1000:", total)
        fs = [pool.submit(square, n) for n in (3, 1, 2)]
        print("as_completed:", sorted(f.result() for f in futures.as_completed(fs)))
        print("run_in_executor:", asyncio.run(from_asyncio(pool)))


if __name__ == "__main__":
    main()
