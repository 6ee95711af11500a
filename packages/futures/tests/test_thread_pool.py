"""ThreadPoolExecutor and Executor.map: the 3.14 behaviour, and bad input.

Tests taking ``impl`` run on concurrent.futures and on treadle.futures alike.
"""

from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import threading as std_threading
import weakref
from collections.abc import Iterator
from types import ModuleType

import pytest

from treadle import futures
from treadle import threading as tthreading
from treadle.futures import _native, thread


def test_submit_result_and_exception(impl: ModuleType) -> None:
    with impl.ThreadPoolExecutor(2) as ex:
        assert ex.submit(pow, 2, 10).result() == 1024
        assert ex.submit(int, "12", base=8).result() == 10
        exc = ex.submit(lambda: 1 / 0).exception()
        assert isinstance(exc, ZeroDivisionError)
        # A non-callable fails in the future, as in the stdlib.
        assert isinstance(ex.submit(5).exception(), TypeError)


def test_default_max_workers() -> None:
    ex = futures.ThreadPoolExecutor()
    try:
        assert ex._max_workers == _native.default_max_workers()
        counter = getattr(os, "process_cpu_count", None)
        expected_cpus = counter() if counter else len(os.sched_getaffinity(0))
        assert ex._max_workers == min(32, (expected_cpus or 1) + 4)
    finally:
        ex.shutdown()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_workers": 0}, ValueError, "max_workers must be greater than 0"),
        ({"max_workers": -1}, ValueError, "max_workers"),
        ({"max_workers": "4"}, TypeError, "max_workers"),
        ({"max_workers": 2.0}, TypeError, "max_workers"),
        ({"initializer": 5}, TypeError, "initializer must be a callable"),
        ({"thread_name_prefix": 3}, TypeError, "thread_name_prefix"),
        ({"bogus": 1}, TypeError, "bogus"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], error: type, match: str) -> None:
    before = std_threading.active_count()
    with pytest.raises(error, match=match):
        futures.ThreadPoolExecutor(**kwargs)  # type: ignore[arg-type]
    assert std_threading.active_count() == before


def test_idle_thread_reuse() -> None:
    with futures.ThreadPoolExecutor(4) as ex:
        for _ in range(5):
            ex.submit(pow, 2, 2).result()
            # Wait until the only worker is parked, then the next submit must reuse it.
            assert _wait_idle(ex, 1)
        assert len(ex._threads) == 1


def _wait_idle(ex: futures.ThreadPoolExecutor, count: int) -> bool:
    # The worker parks right after finishing: poll its registration under the lock.
    for _ in range(1_000_000):
        with ex._pool.lock:
            if len(ex._pool.idle) >= count:
                return True
        tthreading.Event().wait(0.001)
    return False


def test_pool_grows_to_max_workers_only(impl: ModuleType) -> None:
    gate = std_threading.Event()
    with impl.ThreadPoolExecutor(3) as ex:
        fs = [ex.submit(gate.wait) for _ in range(10)]
        assert len(ex._threads) == 3
        gate.set()
        impl.wait(fs)
    assert all(f.result() for f in fs)


def test_thread_names(impl: ModuleType) -> None:
    with impl.ThreadPoolExecutor(1, thread_name_prefix="job") as ex:
        name = ex.submit(lambda: std_threading.current_thread().name).result()
        tname = ex.submit(lambda: tthreading.current_thread().name).result()
    assert name == tname == "job_0"
    with impl.ThreadPoolExecutor(1) as ex:
        name = ex.submit(lambda: std_threading.current_thread().name).result()
    assert name.startswith("ThreadPoolExecutor-")
    assert name.endswith("_0")


def test_shutdown_refuses_new_work(impl: ModuleType) -> None:
    ex = impl.ThreadPoolExecutor(1)
    ex.submit(int).result()
    ex.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        ex.submit(int)
    with pytest.raises(RuntimeError):
        ex.map(int, [1])
    ex.shutdown()  # twice is fine
    assert not any(t.is_alive() for t in ex._threads)


def test_shutdown_wait_finishes_queued_work(impl: ModuleType) -> None:
    gate = std_threading.Event()
    ex = impl.ThreadPoolExecutor(1)
    fs = [ex.submit(gate.wait, 60)] + [ex.submit(pow, 2, i) for i in range(5)]
    gate.set()
    ex.shutdown(wait=True)
    assert [f.result() for f in fs[1:]] == [1, 2, 4, 8, 16]


def test_shutdown_no_wait_then_work_still_finishes(impl: ModuleType) -> None:
    gate = std_threading.Event()
    ex = impl.ThreadPoolExecutor(1)
    ex.submit(gate.wait, 60)
    queued = ex.submit(pow, 3, 2)
    ex.shutdown(wait=False)
    gate.set()
    assert queued.result(timeout=60) == 9
    for t in list(ex._threads):
        t.join()


def _cancelled_by_shutdown(impl: ModuleType) -> list[futures.Future[int]]:
    started, gate = std_threading.Event(), std_threading.Event()

    def first() -> int:
        started.set()
        gate.wait(60)
        return 1

    ex = impl.ThreadPoolExecutor(1)
    running = ex.submit(first)
    started.wait()
    queued = [ex.submit(pow, 2, i) for i in range(5)]
    gate.set()
    ex.shutdown(wait=True, cancel_futures=True)
    assert running.result() == 1
    assert all(f.cancelled() for f in queued)
    return queued


def test_shutdown_cancel_futures(impl: ModuleType) -> None:
    _cancelled_by_shutdown(impl)


@pytest.mark.stdlib_differs(
    "the stdlib leaves futures cancelled by shutdown(cancel_futures=True) CANCELLED, "
    "not notified, so wait() never counts them as done"
)
def test_shutdown_cancel_futures_notifies_waiters(impl: ModuleType) -> None:
    queued = _cancelled_by_shutdown(impl)
    assert impl.wait(queued, timeout=0).not_done == set()


def test_initializer_runs_once_per_thread(impl: ModuleType) -> None:
    seen: list[str] = []
    with impl.ThreadPoolExecutor(2, initializer=seen.append, initargs=("hi",)) as ex:
        gate = std_threading.Barrier(2)
        impl.wait([ex.submit(gate.wait, 60) for _ in range(2)])
    assert seen == ["hi", "hi"]


def test_initializer_failure_breaks_pool(
    impl: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    def bad_init() -> None:
        raise ValueError("no init")

    with caplog.at_level(logging.CRITICAL, logger="concurrent.futures"):
        ex = impl.ThreadPoolExecutor(1, initializer=bad_init)
        f = ex.submit(int)
        with pytest.raises(impl.thread.BrokenThreadPool):
            f.result(timeout=60)
        with pytest.raises(impl.BrokenExecutor, match="initializer failed"):
            ex.submit(int)
        assert ex._broken
        ex.shutdown()
    assert any("Exception in initializer" in r.getMessage() for r in caplog.records)
    assert thread.BrokenThreadPool is futures.ThreadPoolExecutor.BROKEN


def test_executor_dropped_lets_workers_go(impl: ModuleType) -> None:
    ex = impl.ThreadPoolExecutor(3)
    list(ex.map(abs, range(-5, 5)))
    threads = set(ex._threads)
    ref = weakref.ref(ex)
    del ex
    assert ref() is None
    for t in threads:
        t.join()


def test_map_in_order_with_timeout_and_errors(impl: ModuleType) -> None:
    with impl.ThreadPoolExecutor(3) as ex:
        assert list(ex.map(pow, range(5), itertools.repeat(2))) == [0, 1, 4, 9, 16]
        assert list(ex.map(str, [])) == []
        assert list(ex.map(str)) == []
        results = ex.map(lambda x: 1 // x, [1, 0, 2])
        assert next(results) == 1
        with pytest.raises(ZeroDivisionError):
            next(results)
        gate = std_threading.Event()
        slow = ex.map(gate.wait, [60], timeout=0)
        with pytest.raises(impl.TimeoutError):
            next(slow)
        gate.set()
        assert list(ex.map(str, range(3), chunksize=5)) == ["0", "1", "2"]


def test_map_error_cancels_the_calls_not_started(impl: ModuleType) -> None:
    started, gate = std_threading.Event(), std_threading.Event()
    calls: list[int] = []

    def fn(x: int) -> int:
        if x == 0:
            raise ValueError("first call")
        if x == 1:
            started.set()
            gate.wait(60)
        else:
            calls.append(x)
        return x

    with impl.ThreadPoolExecutor(1) as ex:
        results = ex.map(fn, range(5))
        started.wait()  # fn(0) failed; the only worker runs fn(1); fn(2)... are queued
        with pytest.raises(ValueError, match="first call"):
            next(results)
        # The iterator has stopped: the calls not started are cancelled, and it yields
        # nothing more.
        assert list(results) == []
        gate.set()
    assert calls == []


@pytest.mark.stdlib_since((3, 14), "map(buffersize=) is new in 3.14")
def test_map_bad_buffersize(impl: ModuleType) -> None:
    with impl.ThreadPoolExecutor(1) as ex:
        for bad in ("foo", 2.0):
            with pytest.raises(TypeError, match="buffersize must be an integer or None"):
                ex.map(str, [1], buffersize=bad)
        for bad in (0, -1):
            with pytest.raises(ValueError, match="buffersize must be None or > 0"):
                ex.map(str, [1], buffersize=bad)


def test_map_bad_input() -> None:
    calls: list[object] = []
    with futures.ThreadPoolExecutor(1) as ex:
        with pytest.raises(TypeError):
            ex.map(str, 5)  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="buffersize must be an integer or None"):
            ex.map(calls.append, [1], buffersize=True)  # a bool is no size
        with pytest.raises(TypeError, match="'timeout' must be a real number or None, not str"):
            ex.map(calls.append, [1], timeout="x")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'timeout' must not be NaN"):
            ex.map(calls.append, [1], timeout=float("nan"))
    assert calls == []  # refused before anything was submitted


def _counting(pulled: list[int]) -> Iterator[int]:
    """0, 1, 2, ... for ever, each number noted in *pulled* as it is read."""
    for i in itertools.count():
        pulled.append(i)
        yield i


@pytest.mark.stdlib_since((3, 14), "map(buffersize=) is new in 3.14")
def test_map_buffersize_reads_ahead_only_that_far(impl: ModuleType) -> None:
    pulled: list[int] = []
    with impl.ThreadPoolExecutor(2) as ex:
        results = ex.map(str, _counting(pulled), buffersize=3)
        assert len(pulled) == 3
        assert next(results) == "0"
        assert len(pulled) == 4
        assert [next(results) for _ in range(5)] == ["1", "2", "3", "4", "5"]
        assert len(pulled) == 9
        del results


def test_map_timeout_cancels_the_rest(impl: ModuleType) -> None:
    gate = std_threading.Event()
    calls: list[int] = []
    with impl.ThreadPoolExecutor(1) as ex:
        blocker = ex.submit(gate.wait, 60)
        results = ex.map(calls.append, range(5), timeout=0)
        with pytest.raises(impl.TimeoutError):
            next(results)
        gate.set()
        assert blocker.result()
    assert calls == []


@pytest.mark.stdlib_since((3, 14), "map(buffersize=) is new in 3.14")
@pytest.mark.stdlib_differs(
    "the stdlib submits the next call before it waits for the oldest, so buffersize + 1 "
    "calls have results not yet yielded while it waits; the documentation bounds them "
    "by buffersize"
)
def test_map_buffersize_bounds_the_calls_not_yielded(impl: ModuleType) -> None:
    gate = std_threading.Event()
    pulled: list[int] = []
    with impl.ThreadPoolExecutor(1) as ex:
        blocker = ex.submit(gate.wait, 60)
        try:
            results = ex.map(str, _counting(pulled), buffersize=2, timeout=0)
            with pytest.raises(impl.TimeoutError):
                next(results)
            assert pulled == [0, 1]
        finally:
            gate.set()
        assert blocker.result()


def test_map_dropped_cancels_the_rest(impl: ModuleType) -> None:
    started, gate = std_threading.Event(), std_threading.Event()
    calls: list[int] = []

    def fn(x: int) -> int:
        if x == 1:
            started.set()
            gate.wait(60)
        elif x > 1:
            calls.append(x)
        return x

    with impl.ThreadPoolExecutor(1) as ex:
        results = ex.map(fn, range(5))
        assert next(results) == 0
        started.wait()  # the only worker runs fn(1); fn(2)... are queued
        del results  # dropped while iterating: what has not started is cancelled
        gate.set()
    assert calls == []


def test_map_not_iterated_still_runs_every_call(impl: ModuleType) -> None:
    calls: list[int] = []
    with impl.ThreadPoolExecutor(2) as ex:
        ex.map(calls.append, range(5))  # submitted at once; nobody asks for the results
    assert sorted(calls) == [0, 1, 2, 3, 4]


class _Inline(futures.Executor):
    """An executor that runs each call in submit: Executor.map alone, without a pool."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        f: futures.Future[object] = futures.Future()
        f.set_running_or_notify_cancel()
        f.set_result(fn(*args, **kwargs))
        return f


def test_generic_executor_subclass_map() -> None:
    with _Inline() as ex:
        assert list(ex.map(abs, [-1, -2])) == [1, 2]
        assert list(ex.map(abs, [-1, -2, -3], buffersize=1)) == [1, 2, 3]
    with pytest.raises(NotImplementedError):
        futures.Executor().submit(int)


def test_map_buffersize_does_not_keep_the_executor() -> None:
    ex = _Inline()
    results = ex.map(abs, itertools.count(-3), buffersize=2)
    assert next(results) == 3
    ref = weakref.ref(ex)
    del ex
    assert ref() is None
    # The calls already submitted are still yielded; nothing more is submitted.
    assert list(results) == [2, 1]


def test_pending_work_finishes_at_exit() -> None:
    code = (
        "import threading\n"
        "from treadle import futures\n"
        "gate = threading.Event()\n"
        "ex = futures.ThreadPoolExecutor(1)\n"
        "ex.submit(gate.wait, 60)\n"
        "late = ex.submit(print, 'queued work done')\n"
        "import atexit\n"
        "atexit.register(lambda: print('atexit', late.done()))\n"
        "threading.Timer(0.05, gate.set).start()\n"
        "print('main done')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.splitlines() == ["main done", "queued work done", "atexit True"]


def test_submit_at_exit_raises() -> None:
    code = (
        "import atexit\n"
        "from treadle import futures\n"
        "ex = futures.ThreadPoolExecutor(1)\n"
        "def late():\n"
        "    try:\n"
        "        ex.submit(int)\n"
        "    except RuntimeError as e:\n"
        "        print(e)\n"
        "atexit.register(late)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "cannot schedule new futures after interpreter shutdown"


def test_fork_child_can_use_a_new_pool() -> None:
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    with futures.ThreadPoolExecutor(1) as ex:
        ex.submit(int).result()
    code = (
        "import os\n"
        "from treadle import futures\n"
        "with futures.ThreadPoolExecutor(2) as ex: ex.submit(int).result()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    with futures.ThreadPoolExecutor(2) as ex:\n"
        "        os._exit(0 if ex.submit(pow, 2, 3).result() == 8 else 1)\n"
        "print(os.waitpid(pid, 0)[1])\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "0"


def test_process_pool_is_lazy() -> None:
    code = (
        "import sys\n"
        # A .pth file (coverage's, in hatch's test environments) may have imported
        # multiprocessing at start-up: forget it, so the check below means something.
        "for m in [m for m in sys.modules if m.split('.')[0] == 'multiprocessing']:\n"
        "    del sys.modules[m]\n"
        "from treadle import futures\n"
        "assert 'multiprocessing' not in sys.modules\n"
        "assert 'treadle.multiprocessing' not in sys.modules\n"
        "assert 'ProcessPoolExecutor' in dir(futures)\n"
        "print(futures.ProcessPoolExecutor.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert out == ["treadle.futures.process"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = futures.nothing
