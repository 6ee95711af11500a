"""Issue 19: treadle's timeouts and cancellations reach the ``except`` clauses people wrote.

On 3.10, ``concurrent.futures.TimeoutError`` and ``asyncio.TimeoutError`` are two classes
of their own, neither the builtin ``TimeoutError`` (they all became the builtin in 3.11).
treadle raises, on every version, an exception that each of the three catches; asyncio
turns it into its own as it does the stdlib's. Tests taking ``impl`` run on the stdlib
too: where 3.10's stdlib raises a class that such a clause misses, its run is an xfail.
"""

from __future__ import annotations

import asyncio
import builtins
import concurrent.futures as std
import threading as std_threading
from collections.abc import Callable
from types import ModuleType

import pytest

from treadle import futures

BEFORE_311 = pytest.mark.stdlib_since(
    (3, 11), "concurrent.futures.TimeoutError and asyncio.TimeoutError are the builtin since 3.11"
)
EVERY_TIMEOUT_CLASS = [
    pytest.param(std.TimeoutError, id="concurrent.futures.TimeoutError"),
    pytest.param(builtins.TimeoutError, id="builtin TimeoutError", marks=BEFORE_311),
    pytest.param(asyncio.TimeoutError, id="asyncio.TimeoutError", marks=BEFORE_311),
]


def test_the_name_per_version() -> None:
    assert issubclass(futures.TimeoutError, builtins.TimeoutError)
    assert issubclass(futures.TimeoutError, std.TimeoutError)
    assert issubclass(futures.TimeoutError, asyncio.TimeoutError)
    if std.TimeoutError.__module__ == "builtins":  # 3.11 and later: one class for all
        assert futures.TimeoutError is builtins.TimeoutError
    else:
        assert futures.TimeoutError.__module__ == "treadle.futures"
        assert futures.TimeoutError.__doc__


@pytest.mark.parametrize("caught_as", EVERY_TIMEOUT_CLASS)
def test_future_and_wait_timeouts(impl: ModuleType, caught_as: type[BaseException]) -> None:
    f: std.Future[int] = impl.Future()
    with pytest.raises(caught_as):
        f.result(timeout=0)
    with pytest.raises(caught_as):
        f.exception(timeout=0.001)
    with pytest.raises(caught_as, match=r"1 \(of 1\) futures unfinished"):
        next(impl.as_completed([f], timeout=0))


@pytest.mark.parametrize("caught_as", EVERY_TIMEOUT_CLASS)
def test_map_timeout(impl: ModuleType, caught_as: type[BaseException]) -> None:
    gate = std_threading.Event()
    with impl.ThreadPoolExecutor(1) as ex:
        try:
            results = ex.map(gate.wait, [60], timeout=0)
            with pytest.raises(caught_as):
                next(results)
        finally:
            gate.set()


@pytest.mark.parametrize("caught_as", [p.values[0] for p in EVERY_TIMEOUT_CLASS])
def test_submit_timeout(caught_as: type[BaseException]) -> None:
    started, gate = std_threading.Event(), std_threading.Event()

    def first() -> None:
        started.set()
        gate.wait(60)

    with futures.ThreadPoolExecutor(1, max_pending=1, submit_timeout=0) as ex:
        try:
            ex.submit(first)
            started.wait()
            ex.submit(int)  # takes the one pending slot
            with pytest.raises(caught_as, match="submit_timeout"):
                ex.submit(int)
        finally:
            gate.set()


def _awaited(impl: ModuleType, task: Callable[[], object]) -> BaseException:
    """Run *task* in a pool of *impl* and await it from asyncio; return what it raised."""

    async def main(ex: std.Executor) -> BaseException:
        loop = asyncio.get_running_loop()
        for awaitable in (
            loop.run_in_executor(ex, task),
            asyncio.wrap_future(ex.submit(task)),
        ):
            try:
                await awaitable
            except BaseException as exc:
                seen = exc
        return seen

    with impl.ThreadPoolExecutor(1) as ex:
        return asyncio.run(main(ex))


def _times_out(impl: ModuleType) -> Callable[[], object]:
    def task() -> object:
        never: std.Future[int] = impl.Future()
        return never.result(timeout=0)

    return task


def test_asyncio_catches_a_task_timeout_as_its_own(impl: ModuleType) -> None:
    # A pool task whose own wait timed out, awaited through run_in_executor and
    # wrap_future: asyncio code catches it as asyncio.TimeoutError, on every version.
    assert isinstance(_awaited(impl, _times_out(impl)), asyncio.TimeoutError)


@BEFORE_311
def test_asyncio_task_timeout_is_the_builtin(impl: ModuleType) -> None:
    assert isinstance(_awaited(impl, _times_out(impl)), builtins.TimeoutError)


def test_cancelled_error_is_the_stdlibs(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    f.cancel()
    for caught_as in (impl.CancelledError, std.CancelledError):
        with pytest.raises(caught_as):
            f.result()
        with pytest.raises(caught_as):
            f.exception(timeout=0)
    assert impl.CancelledError is std.CancelledError


def test_asyncio_sees_a_cancelled_future_as_cancelled(impl: ModuleType) -> None:
    async def main() -> bool:
        f: std.Future[int] = impl.Future()
        wrapped = asyncio.wrap_future(f)
        f.cancel()
        try:
            await wrapped
        except asyncio.CancelledError:
            return wrapped.cancelled()
        return False

    assert asyncio.run(main())


def test_asyncio_converts_a_task_cancelled_error(impl: ModuleType) -> None:
    # A pool task that waited on a cancelled future raises concurrent.futures'
    # CancelledError, which asyncio turns into its own by identity.
    def task() -> object:
        gone: std.Future[int] = impl.Future()
        gone.cancel()
        return gone.result()

    assert isinstance(_awaited(impl, task), asyncio.CancelledError)
