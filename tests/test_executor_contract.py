"""One behavioural suite for every executor: DESIGN.md's "One executor contract".

The same tests run against the stdlib's ThreadPoolExecutor, treadle's, and treadle's
DistributedExecutor on a local Dask cluster (when ``distributed`` is installed). An
executor joins with one line in ``KITS``: a :class:`Kit` says how to make it and how its
calls are blocked and released (an Event for threads, a Dask Event on a cluster). A known
difference is a named xfail in ``DIFFERENCES``: strict, unless ``RACES`` lists it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as std_futures
import importlib.util
import logging
import multiprocessing as std_mp
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from treadle import contextvars, futures
from treadle import multiprocessing as mp

pytestmark = pytest.mark.timeout(90)

# The calls the tests send, and what they wait on, live in a module of their own that a
# cluster's workers import by name (they are spawned with this process's path).
sys.path.insert(0, str(Path(__file__).parent))
from _executor_contract_calls import (  # type: ignore[import-not-found,unused-ignore]  # noqa: E402
    ClusterEvent,
    ThreadEvent,
    ThreadEventless,
    add,
    block,
    cluster_client,
    fail,
    read_request_id,
    request_id,
)

# ------------------------------------------------------------------------ the kits


@dataclass
class Kit:
    """How to make one kind of executor and hold its calls."""

    name: str
    make: Callable[..., Any]  # (request, **opt-ins) -> executor
    event: Callable[[], Any]
    slots: int  # how many calls run at once: that many blockers saturate it
    # How many calls beyond ``slots`` the executor may already have marked running (handed
    # to a worker's queue) while the slots are busy: those can no longer be cancelled.
    prefetch: int = 0
    treadle_opt_ins: bool = True
    needs: str | None = None  # an importable module this kit needs
    extra: dict[str, Any] = field(default_factory=dict)


def _threads(module: Any) -> Callable[..., Any]:
    def make(request: pytest.FixtureRequest, **kwargs: Any) -> Any:
        return module.ThreadPoolExecutor(1, **kwargs)

    return make


def _processes(module: Any, mp: Any) -> Callable[..., Any]:
    # forkserver on every Python: fork from a test process with threads is deprecated on
    # 3.12+, and spawn costs each test a few hundred milliseconds more.
    def make(request: pytest.FixtureRequest, **kwargs: Any) -> Any:
        return module.ProcessPoolExecutor(1, mp_context=mp.get_context("forkserver"), **kwargs)

    return make


# One manager per multiprocessing package, started by the ``managers`` fixture before any
# test's leak check: its Events reach a pool's workers as arguments of the calls.
_MANAGERS: dict[str, Any] = {}


def _manager_event(side: str) -> Callable[[], Any]:
    def event() -> Any:
        return _MANAGERS[side].Event()

    return event


def _cluster_executor(request: pytest.FixtureRequest, **kwargs: Any) -> Any:
    from treadle.futures.distributed import DistributedExecutor

    return DistributedExecutor(request.getfixturevalue("dask_client"), **kwargs)


KITS = [
    Kit("stdlib-threads", _threads(std_futures), ThreadEvent, 1, treadle_opt_ins=False),
    Kit("treadle-threads", _threads(futures), ThreadEvent, 1),
    Kit(
        "stdlib-processes",
        _processes(std_futures, std_mp),
        _manager_event("stdlib"),
        1,
        treadle_opt_ins=False,
        prefetch=2,
    ),
    Kit("treadle-processes", _processes(futures, mp), _manager_event("treadle"), 1, prefetch=1),
    Kit("treadle-cluster", _cluster_executor, ClusterEvent, 2, needs="distributed"),
]

# (kit name, test name) -> why that executor behaves otherwise.
DIFFERENCES: dict[tuple[str, str], str] = {
    ("stdlib-threads", "test_propagate_context"): "the stdlib has no propagate_context opt-in",
    ("stdlib-threads", "test_max_pending"): "the stdlib has no max_pending opt-in",
    ("stdlib-processes", "test_propagate_context"): "the stdlib has no propagate_context opt-in",
    ("stdlib-processes", "test_max_pending"): "the stdlib has no max_pending opt-in",
    ("stdlib-processes", "test_shutdown_cancel_futures"): (
        "the stdlib's process pool cancels the queued calls from its manager thread, after "
        "shutdown(wait=False, cancel_futures=True) has returned"
    ),
    ("treadle-processes", "test_shutdown_cancel_futures"): (
        "as the stdlib's: the dispatcher hands the workers what they can take, then cancels "
        "the rest, after shutdown(wait=False, cancel_futures=True) has returned"
    ),
    ("treadle-processes", "test_propagate_context"): (
        "the process pool does not carry context variables to its workers (no "
        "propagate_context opt-in there yet)"
    ),
    ("treadle-cluster", "test_running_future_reports_running"): (
        "a cluster's client hears of a call only when it ends: running() is True only "
        "after cancel() asked the scheduler"
    ),
}
# Differences whose outcome is a race between the test and the pool's own thread: the
# pool sometimes cancels the queued calls before the test looks, so these xfails are not
# strict (a strict one failed CI when the stdlib's manager thread won the race on 3.13).
RACES: set[tuple[str, str]] = {
    ("stdlib-processes", "test_shutdown_cancel_futures"),
    ("treadle-processes", "test_shutdown_cancel_futures"),
}
if sys.version_info < (3, 14):
    for _pool in ("stdlib-threads", "stdlib-processes"):
        DIFFERENCES[_pool, "test_map_buffersize"] = "map(buffersize=) is new in 3.14"


@pytest.fixture(scope="module", autouse=True)
def managers() -> Iterator[None]:
    """The process kits' managers (see ``_MANAGERS``), for the whole module."""
    with (
        std_mp.get_context("forkserver").Manager() as std,
        mp.get_context("forkserver").Manager() as ours,
    ):
        _MANAGERS.update(stdlib=std, treadle=ours)
        try:
            yield
        finally:
            _MANAGERS.clear()


@pytest.fixture(scope="module", autouse=True)
def dask_client() -> Iterator[Any]:
    """The cluster kit's cluster, started before any test's leak check (None: no Dask)."""
    if importlib.util.find_spec("distributed") is None:
        yield None
        return
    import dask  # type: ignore[import-not-found,unused-ignore]
    import distributed  # type: ignore[import-not-found,unused-ignore]

    with (
        # A worker holds no more tasks than threads: "a worker has it" means "it runs".
        dask.config.set({"distributed.scheduler.worker-saturation": 1.0}),
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # its HTTP server always listens
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        cluster_client["client"] = client
        # Warm up: the client's lazy threads and connections, the workers' own clients.
        warm = ClusterEvent()
        distributed.Event(warm.name, client=client).set()
        client.gather(
            [
                client.submit(block, ThreadEventless(), warm, workers=[address], pure=False)
                for address in client.scheduler_info()["workers"]
            ]
        )
        client.run(os.getpid)
        client.run_on_scheduler(os.getpid)
        from treadle.futures.distributed import DistributedExecutor

        with DistributedExecutor(client) as executor:
            executor.submit(add, 1, 1).result(30)
        yield client


# Only sockets: distributed opens a connection when the ones in its pools are busy (the
# client's, and the in-process scheduler's other end) and keeps it for reuse.

_POOLS_GROW = pytest.mark.leaks_ok("fd", reason="distributed's connection pools grow on demand")


@pytest.fixture(
    params=[pytest.param(k, marks=[_POOLS_GROW] if k.needs == "distributed" else []) for k in KITS],
    ids=[kit.name for kit in KITS],
)
def kit(request: pytest.FixtureRequest) -> Kit:
    chosen: Kit = request.param
    if chosen.needs is not None and importlib.util.find_spec(chosen.needs) is None:
        pytest.skip(f"{chosen.name} needs {chosen.needs}, not installed here")
    key = (chosen.name, request.node.originalname)
    reason = DIFFERENCES.get(key)
    if reason is not None:
        request.applymarker(pytest.mark.xfail(reason=reason, strict=key not in RACES))
    return chosen


@pytest.fixture
def executor(kit: Kit, request: pytest.FixtureRequest) -> Iterator[Any]:
    ex = kit.make(request)
    try:
        yield ex
    finally:
        ex.shutdown(wait=True)


def _saturate(kit: Kit, executor: Any) -> tuple[list[Any], Any]:
    """Occupy every slot with a blocked call; return the calls and their release."""
    release = kit.event()
    calls = []
    for _ in range(kit.slots):
        started = kit.event()
        calls.append(executor.submit(block, started, release))
        assert started.wait(60)
    return calls, release


# ----------------------------------------------------------------------- the tests


def test_is_an_executor(executor: Any) -> None:
    assert isinstance(executor, std_futures.Executor)


def test_submit_result(executor: Any) -> None:
    future = executor.submit(add, 2, 3)
    assert isinstance(future, std_futures.Future)
    assert future.result(60) == 5


def test_exception_propagates(executor: Any) -> None:
    with pytest.raises(ValueError, match="boom"):
        executor.submit(fail, "boom").result(60)


def test_map_in_order(executor: Any) -> None:
    assert list(executor.map(add, range(10), range(10), timeout=60)) == list(range(0, 20, 2))


def test_map_buffersize(executor: Any) -> None:
    assert list(executor.map(add, range(50), range(50), buffersize=4)) == list(range(0, 100, 2))


def test_wait_and_as_completed(executor: Any) -> None:
    fs = [executor.submit(add, i, 0) for i in range(5)]
    done, not_done = futures.wait(fs, timeout=60)
    assert (done, not_done) == (set(fs), set())
    done, _ = std_futures.wait(fs, timeout=60)
    assert done == set(fs)
    assert sorted(f.result() for f in futures.as_completed(fs, timeout=60)) == list(range(5))


def test_asyncio(executor: Any) -> None:
    async def main() -> tuple[int, int]:
        wrapped = await asyncio.wrap_future(executor.submit(add, 1, 1))
        ran = await asyncio.get_running_loop().run_in_executor(executor, add, 2, 2)
        return wrapped, ran

    assert asyncio.run(main()) == (2, 4)


def test_cancel_pending_not_running(kit: Kit, executor: Any) -> None:
    calls, release = _saturate(kit, executor)
    handed = [executor.submit(add, 1, 1) for _ in range(kit.prefetch)]
    queued = executor.submit(add, 1, 1)
    assert queued.cancel()
    assert queued.cancelled()
    assert not calls[0].cancel()
    release.set()
    assert [c.result(60) for c in calls] == ["released"] * kit.slots
    assert [h.result(60) for h in handed] == [2] * kit.prefetch
    with pytest.raises(std_futures.CancelledError):
        queued.result(0)


def test_running_future_reports_running(kit: Kit, executor: Any) -> None:
    calls, release = _saturate(kit, executor)
    try:
        assert calls[0].running()
    finally:
        release.set()
        futures.wait(calls, timeout=60)


def test_shutdown_cancel_futures(kit: Kit, request: pytest.FixtureRequest) -> None:
    executor = kit.make(request)
    calls, release = _saturate(kit, executor)
    handed = [executor.submit(add, 1, 1) for _ in range(kit.prefetch)]
    queued = [executor.submit(add, i, i) for i in range(3)]
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError):
        executor.submit(add, 1, 1)
    release.set()
    executor.shutdown(wait=True)
    assert [c.result(0) for c in calls] == ["released"] * kit.slots
    assert all(h.cancelled() or h.result(0) == 2 for h in handed)


def test_context_manager_shuts_down(kit: Kit, request: pytest.FixtureRequest) -> None:
    with kit.make(request) as executor:
        assert executor.submit(add, 1, 2).result(60) == 3
    with pytest.raises(RuntimeError):
        executor.submit(add, 1, 1)


def test_unknown_keyword_named(kit: Kit, request: pytest.FixtureRequest) -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        kit.make(request, no_such_option=True)


def test_propagate_context(kit: Kit, request: pytest.FixtureRequest) -> None:
    def body() -> str:
        request_id.set("r1")
        with kit.make(request, propagate_context=True) as executor:
            return str(executor.submit(read_request_id).result(60))

    assert contextvars.Context().run(body) == "r1"


def test_max_pending(kit: Kit, request: pytest.FixtureRequest) -> None:
    with kit.make(request, max_pending=kit.slots, submit_timeout=0.05) as executor:
        calls, release = _saturate(kit, executor)
        # A thread pool counts the calls not started, a cluster those not finished: with
        # every slot busy, a bound of `slots` is full either way once `slots` more calls
        # wait (and those an executor hands on early: `prefetch`).

        def fill() -> None:
            for _ in range(kit.slots + kit.prefetch + 1):
                calls.append(executor.submit(add, 1, 1))

        with pytest.raises(TimeoutError, match="submit_timeout"):
            fill()
        release.set()
        futures.wait(calls, timeout=60)
