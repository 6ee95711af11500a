"""treadle.futures beside asyncio and treadle.contextvars (integration).

Every point of issue 6's "Beside asyncio", plus the opt-ins crossing package borders:
context variables of both treadle and the stdlib reach pool tasks started from asyncio.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as std
import contextvars as std_contextvars
import threading as std_threading

import pytest

from treadle import contextvars as tcv
from treadle import futures

request: tcv.ContextVar[str] = tcv.ContextVar("request", default="-")
std_request: std_contextvars.ContextVar[str] = std_contextvars.ContextVar(
    "std_request", default="-"
)


def both() -> tuple[str, str]:
    return request.get(), std_request.get()


def test_asyncio_accepts_treadle_types() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        ex = futures.ThreadPoolExecutor(2)
        assert isinstance(ex, std.ThreadPoolExecutor)
        loop.set_default_executor(ex)
        assert await loop.run_in_executor(None, sum, [1, 2]) == 3
        assert await asyncio.to_thread(max, 4, 9) == 9
        assert await asyncio.wrap_future(ex.submit(min, 4, 9)) == 4

    asyncio.run(main())


def test_to_thread_copies_context_on_treadle_pool() -> None:
    async def main() -> tuple[str, str]:
        asyncio.get_running_loop().set_default_executor(futures.ThreadPoolExecutor(1))
        request.set("req-7")
        std_request.set("std-7")
        return await asyncio.to_thread(both)

    assert asyncio.run(main()) == ("req-7", "std-7")


def test_propagate_context_from_tasks() -> None:
    async def handle(ex: futures.ThreadPoolExecutor, rid: str) -> tuple[str, str]:
        request.set(rid)
        std_request.set(rid.upper())
        return await asyncio.wrap_future(ex.submit(both))

    async def main(ex: futures.ThreadPoolExecutor) -> list[tuple[str, str]]:
        return list(await asyncio.gather(*(handle(ex, f"r{i}") for i in range(4))))

    with futures.ThreadPoolExecutor(2, propagate_context=True) as ex:
        assert asyncio.run(main(ex)) == [(f"r{i}", f"R{i}") for i in range(4)]


def test_cancel_from_asyncio_task() -> None:
    gate = std_threading.Event()
    ran: list[int] = []

    async def main(ex: futures.ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        ex.submit(gate.wait, 60)
        task = asyncio.ensure_future(loop.run_in_executor(ex, ran.append, 1))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with futures.ThreadPoolExecutor(1) as ex:
        asyncio.run(main(ex))
        gate.set()
    assert ran == []
