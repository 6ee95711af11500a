"""DistributedExecutor against a real Dask cluster: scheduler and worker processes on 127.0.0.1.

One LocalCluster (2 worker processes, 1 thread each) serves the module; it starts before
the per-test leak check (a module fixture) and is warmed up, so that the client's lazily
made threads and connections exist before the first test. The killed worker and the lost
scheduler get clusters of their own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as std_futures
import logging
import os
import signal
import sys
import threading as std_threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip(
    "distributed", reason="DistributedExecutor needs Dask's distributed (the [distributed] extra)"
)

import dask  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

from treadle import contextvars, futures  # noqa: E402
from treadle.futures.distributed import BrokenCluster, DistributedExecutor  # noqa: E402

# The workers are spawned with this path: they import _dist_tasks by the same name.
sys.path.insert(0, str(Path(__file__).parent))
import _dist_tasks as tasks  # type: ignore[import-not-found,unused-ignore]  # noqa: E402

pytestmark = [
    pytest.mark.timeout(90),
    # Not a thread or a process: only sockets. distributed opens a connection when the
    # ones in its pools are busy (the client's, and the in-process scheduler's other end)
    # and keeps it for reuse, so a test may end with more open than it started with.
    pytest.mark.leaks_ok("fd", reason="distributed's connection pools grow on demand"),
]


def _cluster(n_workers: int = 2) -> Any:
    # No queuing on the scheduler: every task goes to a worker at once, busy or not, so
    # the cancel tests meet the harder case every time: a task a worker holds but has not
    # started, which cancel() must still cancel (Dask's own default queues some tasks on
    # the scheduler and hands out others, depending on timing).
    with dask.config.set({"distributed.scheduler.worker-saturation": float("inf")}):
        return _start_cluster(n_workers)


def _start_cluster(n_workers: int) -> Any:
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # The scheduler's HTTP server always listens: a free port, not the default 8787.
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.CRITICAL,
    )


def _warm_up(client: Any) -> None:
    # Make the client's lazy threads and worker connections now, not in a test.
    client.gather(client.map(tasks.square, range(8), pure=False))
    client.run(os.getpid)
    client.run_on_scheduler(os.getpid)
    event = distributed.Event(f"warm-{uuid.uuid4().hex}", client=client)
    event.set()
    # Each worker's own client (for Dask Events) connects to the in-process scheduler.
    client.gather(
        [
            client.submit(tasks.wait_for, event.name, workers=[address], pure=False)
            for address in client.scheduler_info()["workers"]
        ]
    )
    with DistributedExecutor(client) as executor:
        executor.submit(tasks.add, 1, 2).result(30)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with _cluster() as cluster, distributed.Client(cluster, set_as_default=False) as c:
        _warm_up(c)
        yield c


@pytest.fixture
def executor(client: Any) -> Iterator[DistributedExecutor]:
    with DistributedExecutor(client) as ex:
        yield ex


class Gate:
    """A Dask Event the workers wait on, and one they set when they start."""

    def __init__(self, client: Any) -> None:
        self.name = f"gate-{uuid.uuid4().hex}"
        self.started_name = f"{self.name}-started"
        self.open_event = distributed.Event(self.name, client=client)
        self.started = distributed.Event(self.started_name, client=client)

    def open(self) -> None:
        self.open_event.set()


def _scheduler_state(key: str, dask_scheduler: Any = None) -> str | None:
    task = dask_scheduler.tasks.get(key)
    return None if task is None else str(task.state)


def wait_assigned(client: Any, *pending: futures.Future[Any]) -> None:
    """Return once the scheduler has handed each call of *pending* to a worker.

    The client sends a submit on its batched stream, apart from the questions cancel()
    asks, so a test of cancelling a held call first waits for the scheduler to say so.
    Dask has no notification for it: the state is polled, with a deadline.
    """
    deadline = time.monotonic() + 60
    for future in pending:
        key = future._key  # type: ignore[attr-defined]
        while client.run_on_scheduler(_scheduler_state, key) != "processing":
            assert time.monotonic() < deadline, f"the scheduler never assigned {key}"
            time.sleep(0.01)


# ----------------------------------------------------------------------- basics


def test_import_does_not_import_distributed(python_snippet: Any) -> None:
    done = python_snippet(
        "import sys, treadle.futures as f\n"
        "assert 'distributed' not in sys.modules\n"
        "assert 'DistributedExecutor' in dir(f)\n"
        "assert 'distributed' not in sys.modules\n"
        "print('ok')"
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_lazy_name_is_the_class() -> None:
    assert futures.DistributedExecutor is DistributedExecutor
    assert DistributedExecutor.__module__ == "treadle.futures.distributed"
    assert issubclass(DistributedExecutor, std_futures.Executor)
    assert issubclass(BrokenCluster, futures.BrokenExecutor)


def test_submit_returns_treadle_futures(executor: DistributedExecutor) -> None:
    future = executor.submit(tasks.add, 2, 3)
    assert isinstance(future, futures.Future)
    assert isinstance(future, std_futures.Future)
    assert future.result(30) == 5
    assert future.done()
    assert not future.running()


def test_exception_comes_back_with_its_type(executor: DistributedExecutor) -> None:
    future = executor.submit(tasks.fail, "boom")
    with pytest.raises(ValueError, match="boom"):
        future.result(30)
    assert isinstance(future.exception(), ValueError)


def test_keywords_reach_the_call_even_submits_own(executor: DistributedExecutor) -> None:
    # key=, pure=, workers= are Client.submit's own keywords; here they are the call's.
    future = executor.submit(tasks.echo, 1, key="k", pure="p", workers="w")
    assert future.result(30) == ((1,), {"key": "k", "pure": "p", "workers": "w"})


def test_lambda_and_closure_travel(executor: DistributedExecutor) -> None:
    offset = 10
    assert executor.submit(lambda x: x + offset, 5).result(30) == 15


def test_map_in_order(executor: DistributedExecutor) -> None:
    assert list(executor.map(tasks.square, range(20), timeout=60)) == [i * i for i in range(20)]
    assert list(executor.map(tasks.add, range(5), range(10, 13))) == [10, 12, 14]


def test_map_chunksize_and_buffersize(executor: DistributedExecutor) -> None:
    results = executor.map(tasks.square, range(1000), chunksize=64, buffersize=3)
    assert list(results) == [i * i for i in range(1000)]
    assert list(executor.map(tasks.add, [], [], chunksize=5)) == []


def test_map_error_raised_at_its_place(executor: DistributedExecutor) -> None:
    results = executor.map(tasks.fail, ["first", "second"])
    with pytest.raises(ValueError, match="first"):
        next(results)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"chunksize": 0}, ValueError, "chunksize"),
        ({"chunksize": 1.5}, TypeError, "chunksize"),
        ({"buffersize": 0}, ValueError, "buffersize"),
        ({"timeout": "x"}, TypeError, "timeout"),
    ],
)
def test_map_bad_arguments(
    executor: DistributedExecutor, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        executor.map(tasks.square, range(3), **kwargs)


# ---------------------------------------------------------- futures everywhere


def test_wait_and_as_completed(executor: DistributedExecutor) -> None:
    fs = [executor.submit(tasks.square, i) for i in range(6)]
    done, not_done = futures.wait(fs, timeout=60)
    assert done == set(fs)
    assert not not_done
    assert sorted(f.result() for f in futures.as_completed(fs, timeout=60)) == [
        i * i for i in range(6)
    ]


def test_stdlib_wait_on_its_futures(executor: DistributedExecutor) -> None:
    fs: list[std_futures.Future[int]] = [executor.submit(tasks.square, i) for i in range(4)]
    done, _ = std_futures.wait(fs, timeout=60)
    assert done == set(fs)
    assert len(list(std_futures.as_completed(fs, timeout=60))) == 4


def test_asyncio_wrap_future_and_run_in_executor(executor: DistributedExecutor) -> None:
    async def main() -> tuple[int, int]:
        wrapped = await asyncio.wrap_future(executor.submit(tasks.add, 1, 1))
        loop = asyncio.get_running_loop()
        ran = await loop.run_in_executor(executor, tasks.add, 2, 2)
        return wrapped, ran

    assert asyncio.run(main()) == (2, 4)


# -------------------------------------------------------------------- cancelling


def test_cancel_pending_and_running(client: Any, executor: DistributedExecutor) -> None:
    gate = Gate(client)
    # Both workers busy: the first two calls run; the third waits, on the scheduler or on
    # a busy worker (which has not started it, so it can still be cancelled).
    busy = [executor.submit(tasks.wait_for, gate.name, f"{gate.started_name}-{i}") for i in (0, 1)]
    for i in (0, 1):
        assert distributed.Event(f"{gate.started_name}-{i}", client=client).wait(60)
    queued = executor.submit(tasks.square, 3)
    wait_assigned(client, queued)
    assert queued.cancel()
    assert queued.cancelled()
    assert not busy[0].cancel()
    assert busy[0].running()
    gate.open()
    assert [f.result(60) for f in busy] == [gate.name, gate.name]
    with pytest.raises(futures.CancelledError):
        queued.result(0)
    # Once the cluster confirms, waiters count it among the done ones.
    assert queued in futures.wait([queued], timeout=60).done


def test_map_dropped_early_cancels_the_rest(client: Any) -> None:
    executor = DistributedExecutor(client)
    results = executor.map(tasks.square, range(500))
    assert [next(results), next(results)] == [0, 1]
    del results  # cancels what has not started, in one request
    executor.shutdown(wait=True)  # returns: every call finished or cancelled


def test_cancel_reaches_asyncio(client: Any, executor: DistributedExecutor) -> None:
    gate = Gate(client)
    busy = [executor.submit(tasks.wait_for, gate.name, f"{gate.started_name}-{i}") for i in (0, 1)]
    for i in (0, 1):
        assert distributed.Event(f"{gate.started_name}-{i}", client=client).wait(60)

    async def main() -> bool:
        wrapped = asyncio.wrap_future(executor.submit(tasks.square, 4))
        wrapped.cancel()
        try:
            await wrapped
        except asyncio.CancelledError:
            return True
        return False

    assert asyncio.run(main())
    gate.open()
    futures.wait(busy, timeout=60)


def test_shutdown_cancel_futures(client: Any) -> None:
    gate = Gate(client)
    executor = DistributedExecutor(client)
    busy = [executor.submit(tasks.wait_for, gate.name, f"{gate.started_name}-{i}") for i in (0, 1)]
    for i in (0, 1):
        assert distributed.Event(f"{gate.started_name}-{i}", client=client).wait(60)
    queued = [executor.submit(tasks.square, i) for i in range(3)]
    wait_assigned(client, *queued)
    executor.shutdown(wait=False, cancel_futures=True)
    assert all(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(tasks.square, 1)
    gate.open()
    executor.shutdown(wait=True)
    assert [f.result(0) for f in busy] == [gate.name, gate.name]


# --------------------------------------------------------------------- opt-ins


def test_max_pending_blocks_and_times_out(client: Any) -> None:
    gate = Gate(client)
    with DistributedExecutor(client, max_pending=2, submit_timeout=0.05) as executor:
        first = executor.submit(tasks.wait_for, gate.name)
        second = executor.submit(tasks.wait_for, gate.name)
        with pytest.raises(TimeoutError, match="submit_timeout"):
            executor.submit(tasks.square, 1)
        gate.open()
        assert first.result(60) == second.result(60) == gate.name
        # A slot is free again once a call finished.
        assert executor.submit(tasks.square, 3).result(60) == 9


def test_task_timeout_fails_the_call(client: Any) -> None:
    with DistributedExecutor(client, task_timeout=0.2) as executor:
        slow = executor.submit(tasks.spin, 3.0)
        with pytest.raises(TimeoutError, match="task_timeout"):
            slow.result(60)
        assert executor.submit(tasks.square, 5).result(60) == 25


def test_propagate_context(client: Any) -> None:
    def body() -> tuple[str, str, list[str]]:
        tasks.request_id.set("r1")
        with DistributedExecutor(client, propagate_context=True) as executor:
            first = executor.submit(tasks.read_request_id).result(60)
            tasks.request_id.set("r2")
            second = executor.submit(tasks.read_request_id).result(60)
            mapped = list(executor.map(lambda _: tasks.read_request_id(), range(3), chunksize=2))
            mapped += executor.map(lambda _: tasks.read_request_id(), range(2))
        return first, second, mapped

    assert contextvars.Context().run(body) == ("r1", "r2", ["r2"] * 5)


def test_context_not_propagated_by_default(executor: DistributedExecutor) -> None:
    def body() -> str:
        tasks.request_id.set("r1")
        return str(executor.submit(tasks.read_request_id).result(60))

    assert contextvars.Context().run(body) == "-"


def test_unpicklable_context_value_is_named(client: Any) -> None:
    def body() -> None:
        tasks.request_id.set(std_threading.Lock())
        with (
            DistributedExecutor(client, propagate_context=True) as executor,
            pytest.raises(TypeError, match=r"context variable _dist_tasks\.request_id"),
        ):
            executor.submit(tasks.read_request_id)

    contextvars.Context().run(body)


def test_unpicklable_argument_named_at_submit(executor: DistributedExecutor) -> None:
    with pytest.raises(TypeError, match=r"args\[1\]\['lock'\] \(a lock\)"):
        executor.submit(tasks.echo, 1, {"ok": 1, "lock": std_threading.Lock()})
    with pytest.raises(TypeError, match=r"kwargs\['x'\]\[0\]"):
        executor.submit(tasks.echo, x=[std_threading.Lock()])
    with pytest.raises(TypeError, match=r"args\[0\] \(a lock\)"):
        executor.map(tasks.echo, [1, std_threading.Lock()])
    # Nothing was sent: the executor works on.
    assert executor.submit(tasks.square, 2).result(30) == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_pending": 0}, ValueError, "max_pending"),
        ({"max_pending": True}, TypeError, "max_pending"),
        ({"submit_timeout": 1}, ValueError, "submit_timeout"),
        ({"max_pending": 1, "submit_timeout": -1}, ValueError, "submit_timeout"),
        ({"propagate_context": 1}, TypeError, "propagate_context"),
        ({"task_timeout": "1"}, TypeError, "task_timeout"),
        ({"task_timeout": 0}, ValueError, "task_timeout"),
        # The thread pool's arguments that do not apply to a cluster.
        ({"max_workers": 2}, TypeError, "max_workers"),
        ({"initializer": print}, TypeError, "initializer"),
    ],
)
def test_bad_arguments_named(
    client: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        DistributedExecutor(client, **kwargs)


def test_client_argument_checked() -> None:
    with pytest.raises(TypeError, match="client"):
        DistributedExecutor()
    with pytest.raises(TypeError, match="client"):
        DistributedExecutor(42)


def test_given_client_stays_open(client: Any) -> None:
    with DistributedExecutor(client) as executor:
        executor.submit(tasks.square, 1).result(30)
    assert client.status == "running"
    assert executor.client is client


# ------------------------------------------------------------- when things break

# For the tests that make a cluster of their own: the module's cluster first, so that what
# distributed creates once per process (its offload thread, the stdlib's resource tracker)
# exists before the leak check's snapshot, whichever test a worker runs first (random
# order, xdist).
_AFTER_THE_MODULE_CLUSTER = pytest.mark.usefixtures("client")


@pytest.mark.timeout(120)
@pytest.mark.leaks_ok(
    "shm",
    reason="a cluster of its own: the semaphores of its lost worker processes are "
    "distributed's (multiprocessing's resource tracker removes them), not this test's",
)
@_AFTER_THE_MODULE_CLUSTER
def test_killed_worker_is_retried_or_fails_clearly() -> None:
    with (
        _cluster(n_workers=1) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
        DistributedExecutor(client) as executor,
    ):
        gate = Gate(client)
        future = executor.submit(tasks.wait_for, gate.name, gate.started_name)
        assert gate.started.wait(60)
        (worker_pid,) = client.run(os.getpid).values()
        os.kill(worker_pid, signal.SIGKILL)
        gate.open()  # the retry, on the worker the nanny restarts, passes at once
        # Retried (the result) or given up (KilledWorker, Dask's error): never a hang.
        outcome = future.exception(90)
        if outcome is None:
            assert future.result() == gate.name
        else:
            assert type(outcome).__name__ == "KilledWorker", outcome
        assert executor.submit(tasks.square, 6).result(60) == 36


@pytest.mark.timeout(120)
@pytest.mark.leaks_ok(
    "shm",
    reason="a cluster of its own: the semaphores of its lost worker processes are "
    "distributed's (multiprocessing's resource tracker removes them), not this test's",
)
@_AFTER_THE_MODULE_CLUSTER
def test_scheduler_gone_mid_map_fails_the_calls() -> None:
    cluster = _cluster(n_workers=1)
    try:
        client = distributed.Client(cluster, set_as_default=False, timeout=5)
        executor = DistributedExecutor(client)
        gate = Gate(client)
        results = executor.map(tasks.wait_for, [gate.name] * 4, [gate.started_name] * 4)
        assert gate.started.wait(60)
        cluster.sync(cluster.scheduler.close)  # the scheduler goes away mid-map
        with pytest.raises(Exception) as caught:  # noqa: PT011 - one of the two below
            list(results)
        assert isinstance(caught.value, (futures.BrokenExecutor, futures.CancelledError)), (
            caught.value
        )
        executor.shutdown(wait=True)
        client.close()
    finally:
        cluster.close()


def test_a_context_variable_goes_by_the_module_a_worker_can_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found from a module pytest's importlib mode named after its folder ("suite.test_x",
    # not importable on a worker) and from the module that defined it: the latter wins,
    # whichever of the two was loaded first.
    import importlib.util
    import types

    from treadle.futures import _distributed

    (tmp_path / "ctx_home_mod.py").write_text(
        "from treadle import contextvars\nvar = contextvars.ContextVar('v')\n"
    )
    (tmp_path / "rootdir" / "suite").mkdir(parents=True)  # rootdir: not on sys.path
    (tmp_path / "rootdir" / "suite" / "test_x.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = importlib.util.spec_from_file_location("ctx_home_mod", tmp_path / "ctx_home_mod.py")
    assert spec is not None
    assert spec.loader is not None
    home = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(home)
    importer = types.ModuleType("suite.test_x")
    importer.__spec__ = importlib.util.spec_from_file_location(
        "suite.test_x", tmp_path / "rootdir" / "suite" / "test_x.py"
    )
    importer.the_var = home.var  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "suite.test_x", importer)  # loaded first
    monkeypatch.setitem(sys.modules, "ctx_home_mod", home)
    assert _distributed._home_of(home.var) == ("ctx_home_mod", "var")
    # Only an importer that cannot be imported holds it: that is still better than nothing.
    other: contextvars.ContextVar[int] = contextvars.ContextVar("w")
    importer.only = other  # type: ignore[attr-defined]
    assert _distributed._home_of(other) == ("suite.test_x", "only")
