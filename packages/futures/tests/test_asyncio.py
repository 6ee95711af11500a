"""Beside asyncio: run_in_executor, wrap_future, set_default_executor, to_thread, cancel."""

from __future__ import annotations

import asyncio
import threading as std_threading

import pytest

from treadle import futures


def test_run_in_executor() -> None:
    async def main(ex: futures.ThreadPoolExecutor) -> int:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(ex, pow, 2, 5)

    with futures.ThreadPoolExecutor(2) as ex:
        assert asyncio.run(main(ex)) == 32


def test_run_in_executor_exception() -> None:
    async def main(ex: futures.ThreadPoolExecutor) -> None:
        await asyncio.get_running_loop().run_in_executor(ex, int, "x")

    with futures.ThreadPoolExecutor(1) as ex, pytest.raises(ValueError, match="invalid literal"):
        asyncio.run(main(ex))


def test_wrap_future() -> None:
    async def main() -> str:
        f: futures.Future[str] = futures.Future()
        wrapped = asyncio.wrap_future(f)
        loop = asyncio.get_running_loop()

        def complete() -> None:
            f.set_running_or_notify_cancel()
            f.set_result("ok")

        loop.call_soon(complete)
        return await wrapped

    assert asyncio.run(main()) == "ok"


def test_set_default_executor_and_to_thread() -> None:
    names: list[str] = []

    async def main(ex: futures.ThreadPoolExecutor) -> int:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ex)
        names.append(await asyncio.to_thread(lambda: std_threading.current_thread().name))
        return await loop.run_in_executor(None, abs, -3)

    ex = futures.ThreadPoolExecutor(1, thread_name_prefix="dflt")
    assert asyncio.run(main(ex)) == 3  # asyncio.run shuts the default executor down
    assert names == ["dflt_0"]
    with pytest.raises(RuntimeError):
        ex.submit(int)


def test_cancelling_the_asyncio_side_cancels_the_future() -> None:
    gate = std_threading.Event()

    async def main(ex: futures.ThreadPoolExecutor) -> futures.Future[int]:
        ex.submit(gate.wait, 60)  # occupies the only worker
        queued = ex.submit(int)
        wrapped = asyncio.wrap_future(queued)
        await asyncio.sleep(0)
        wrapped.cancel()
        with pytest.raises(asyncio.CancelledError):
            await wrapped
        await asyncio.sleep(0)  # the cancellation crosses over via call_soon_threadsafe
        return queued

    with futures.ThreadPoolExecutor(1) as ex:
        queued = asyncio.run(main(ex))
        gate.set()
    assert queued.cancelled()
