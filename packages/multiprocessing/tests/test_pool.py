"""treadle.multiprocessing.pool: Pool, ThreadPool and their results.

Most checks share one pool per start method (module scope): starting workers is what
costs. Tests that change the set of workers (deaths, maxtasksperchild, terminate) make
their own, small pools. Tasks block on connections, never on sleeps.
"""

from __future__ import annotations

import itertools
import os
import pickle
import signal
from collections.abc import Iterator
from typing import Any

import _pool_targets as targets  # type: ignore[import-not-found,unused-ignore]
import pytest

import treadle.queue
from pytest_treadle import check_public_surface
from treadle import multiprocessing
from treadle.multiprocessing import _native
from treadle.multiprocessing import pool as pool_module
from treadle.multiprocessing.pool import Pool, ThreadPool, WorkerLostError

START_METHODS = ("forkserver", "spawn", "fork")


@pytest.fixture
def gate(tmp_path: Any) -> str:
    """A named pipe: a task blocks in ``targets.wait_for(gate)`` until :func:`release`."""
    path = str(tmp_path / "gate")
    os.mkfifo(path)
    return path


def release(path: str) -> None:
    """Let the task waiting on the named pipe *path* go."""
    with open(path, "wb") as fifo:
        fifo.write(b"x")


@pytest.fixture(scope="module", params=START_METHODS)
def pool(request: pytest.FixtureRequest) -> Iterator[Pool]:
    """A pool of two workers of each start method, shared by the module's tests."""
    shared = multiprocessing.get_context(request.param).Pool(2)
    yield shared
    shared.close()
    shared.join()


# ---------------------------------------------------------------------------------------
# The calls and their results, on the shared pools.


def test_calls_return_the_results(pool: Pool) -> None:
    assert pool.apply(targets.add, (2, 3)) == 5
    assert pool.apply(targets.add, (), {"x": 1, "y": 2}) == 3
    assert pool.map(targets.square, range(10)) == [x * x for x in range(10)]
    assert pool.map(targets.square, iter(range(7)), chunksize=3) == [x * x for x in range(7)]
    assert pool.map(targets.square, []) == []
    assert pool.starmap(targets.add, [(1, 2), (3, 4)]) == [3, 7]
    assert list(pool.imap(targets.square, range(6), chunksize=4)) == [x * x for x in range(6)]
    assert sorted(pool.imap_unordered(targets.square, range(9), 2)) == sorted(
        x * x for x in range(9)
    )
    assert list(pool.imap(targets.square, [])) == []
    assert pool.map_async(targets.square, range(3)).get(30) == [0, 1, 4]
    assert pool.starmap_async(targets.add, [(1, 1)]).get(30) == [2]


def test_large_arguments_and_results(pool: Pool) -> None:
    # Bigger than a socket buffer: written in parts as the worker reads.
    big = b"y" * (6 << 20)
    assert pool.map(len, [big] * 3, chunksize=1) == [len(big)] * 3
    assert [len(b) for b in pool.map(targets.make_bytes, [5 << 20] * 2)] == [5 << 20] * 2


def test_both_workers_take_tasks(pool: Pool) -> None:
    pids = set(pool.map(targets.pid, range(200), chunksize=1))
    assert 1 <= len(pids) <= 2
    assert multiprocessing.current_process().pid not in pids


def test_async_result_states_and_callbacks(pool: Pool, gate: str) -> None:
    got: list[object] = []
    result = pool.apply_async(targets.wait_for, (gate, "done"), callback=got.append)
    assert not result.ready()
    with pytest.raises(ValueError, match="not ready"):
        result.successful()
    with pytest.raises(multiprocessing.TimeoutError):
        result.get(timeout=0.01)
    result.wait(0)
    release(gate)
    assert result.get(30) == "done"
    assert result.ready()
    assert result.successful()
    assert got == ["done"]

    errors: list[BaseException] = []
    failed = pool.apply_async(targets.fail_on, (3,), error_callback=errors.append)
    failed.wait(30)
    assert not failed.successful()
    assert isinstance(errors[0], ValueError)

    mapped: list[object] = []
    pool.map_async(targets.square, range(4), callback=mapped.append).wait(30)
    assert mapped == [[0, 1, 4, 9]]


def test_errors_come_back_with_the_remote_traceback(pool: Pool) -> None:
    with pytest.raises(ValueError, match="bad item 3") as info:
        pool.apply(targets.fail_on, (3,))
    assert "fail_on" in str(info.value.__cause__)
    with pytest.raises(ValueError, match="bad item 3"):
        pool.map(targets.fail_on, range(6), chunksize=1)
    # imap raises the error in place and carries on after it.
    it = pool.imap(targets.fail_on, range(5))
    assert [next(it), next(it), next(it)] == [0, 1, 2]
    with pytest.raises(ValueError, match="bad item 3"):
        next(it)
    assert list(it) == [4]


def test_what_cannot_be_pickled(pool: Pool) -> None:
    with pytest.raises(Exception, match="Error sending result") as info:
        pool.apply(targets.unpicklable_result)
    assert type(info.value).__name__ == "MaybeEncodingError"
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        pool.apply(lambda: None)
    # The other tasks of the same map still ran: only its result is an error.
    assert pool.map(targets.square, range(3)) == [0, 1, 4]


def test_imap_next_timeout(pool: Pool, gate: str) -> None:
    it = pool.imap(targets.wait_for, [gate])
    with pytest.raises(multiprocessing.TimeoutError):
        it.next(timeout=0.01)
    release(gate)
    assert it.next(timeout=30) is None
    with pytest.raises(StopIteration):
        next(it)


def test_imap_buffersize_bounds_the_read_ahead(pool: Pool) -> None:
    pulled = 0

    def source() -> Iterator[int]:
        nonlocal pulled
        for x in range(20):
            pulled += 1
            yield x

    taken = 0
    for value in pool.imap(targets.square, source(), buffersize=3):
        assert value == taken * taken
        taken += 1
        assert pulled <= taken + 3
    assert taken == 20
    unordered = pool.imap_unordered(targets.square, range(10), chunksize=2, buffersize=1)
    assert sorted(unordered) == [x * x for x in range(10)]


# ---------------------------------------------------------------------------------------
# Pools of their own.


_DEATHS = {"kill": -signal.SIGKILL, "exit": 3, "segv": -signal.SIGSEGV}


# Every way of dying under the default method and fork (whose workers inherit the
# parent's descriptors); one under spawn, whose replacements are slow to start.
@pytest.mark.parametrize(
    ("start_method", "deaths"),
    [
        ("forkserver", ("kill", "exit", "segv")),
        ("fork", ("segv", "kill", "exit")),
        ("spawn", ("kill",)),
    ],
)
def test_a_dead_worker_fails_only_its_task(start_method: str, deaths: tuple[str, ...]) -> None:
    ctx = multiprocessing.get_context(start_method)
    with ctx.Pool(2) as pool:
        for how in deaths:
            code = _DEATHS[how]
            with pytest.raises(WorkerLostError) as info:
                pool.apply(targets.die, (how,))
            error = info.value
            assert error.exitcode == code
            assert str(error.pid) in str(error)
            assert (f"code {code}" if code > 0 else signal.Signals(-code).name) in str(error)
            assert pool.apply(targets.square, (4,)) == 16
        # In a map: the chunk whose worker died fails the map; its neighbours still ran.
        results = pool.map_async(targets.maybe_die, range(6), chunksize=1)
        with pytest.raises(WorkerLostError):
            results.get(60)
        assert sorted(pool.imap_unordered(targets.pid, range(40))) != []
        assert len(set(pool.map(targets.pid, range(100), chunksize=1))) <= 2
        pool.close()
        pool.join()


def test_maxtasksperchild_and_initializer() -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1, initializer=targets.remember, initargs=("hello",), maxtasksperchild=2) as pool:
        seen = pool.map(targets.remembered, range(6), chunksize=1)
        assert {value for value, _ in seen} == {"hello"}
        pids = [p for _, p in seen]
        assert len(set(pids)) == 3
        assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4] == pids[5]
        pool.close()
        pool.join()


def test_close_join_and_state_errors() -> None:
    pool = multiprocessing.get_context("fork").Pool(1)
    with pytest.raises(ValueError, match="still running"):
        pool.join()
    result = pool.map_async(targets.square, range(50))
    pool.close()
    with pytest.raises(ValueError, match="Pool not running"):
        pool.apply_async(targets.square, (1,))
    with pytest.raises(ValueError, match="Pool not running"):
        pool.imap(targets.square, [1])
    with pytest.raises(ValueError, match="Pool not running"):
        pool.__enter__()
    pool.join()
    assert result.get(0) == [x * x for x in range(50)]  # close() lets queued work finish
    pool.terminate()  # a second stop does nothing


def test_terminate_fails_pending_results(gate: str) -> None:
    with multiprocessing.get_context("fork").Pool(1) as pool:
        blocked = pool.apply_async(targets.wait_for, (gate,))
        queued = pool.map_async(targets.square, range(10))
        it = pool.imap(targets.square, range(5))
    # __exit__ terminated the pool: nothing waits for ever.
    for result in (blocked, queued):
        with pytest.raises(ValueError, match="terminated"):
            result.get(30)
    with pytest.raises(ValueError, match="terminated"):
        list(it)
    with pytest.raises(StopIteration):
        next(it)
    pool.join()


def test_context_pool_and_repr() -> None:
    with multiprocessing.get_context("forkserver").Pool(processes=1) as pool:
        assert "state=RUN" in repr(pool)
        assert "pool_size=1" in repr(pool)
        assert pool.apply(targets.square, (5,)) == 25
        with pytest.raises(NotImplementedError):
            pickle.dumps(pool)
    assert "state=TERMINATE" in repr(pool)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"processes": 0}, ValueError, "at least 1"),
        ({"processes": -3}, ValueError, "at least 1"),
        ({"processes": "2"}, TypeError, "processes"),
        ({"maxtasksperchild": 0}, ValueError, "maxtasksperchild"),
        ({"maxtasksperchild": 1.5}, ValueError, "maxtasksperchild"),
        ({"initializer": 5}, TypeError, "initializer"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Pool(**kwargs)
    if "maxtasksperchild" not in kwargs:  # ThreadPool has no such argument
        with pytest.raises(error, match=match):
            ThreadPool(**kwargs)


def test_bad_call_arguments() -> None:
    with ThreadPool(1) as pool:
        with pytest.raises(ValueError, match="chunksize"):
            pool.map(abs, [1], chunksize=0)
        with pytest.raises(ValueError, match="chunksize"):
            pool.imap(abs, [1], chunksize=0)
        with pytest.raises(ValueError, match="buffersize"):
            pool.imap(abs, [1], buffersize=0)
        with pytest.raises(TypeError, match="buffersize"):
            pool.imap_unordered(abs, [1], buffersize=1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            pool.map(abs, 5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# ThreadPool.


def test_thread_pool() -> None:
    with ThreadPool() as default:
        assert default._processes == (_native.process_cpu_count() or 1)
    got: list[object] = []
    with ThreadPool(3, initializer=targets.remember, initargs=(1,)) as pool:
        assert pool.map(lambda x: -x, range(5)) == [0, -1, -2, -3, -4]
        assert pool.apply(targets.remembered)[0] == 1
        assert pool.starmap(targets.add, [(1, 2)]) == [3]
        assert sorted(pool.imap_unordered(abs, [-1, -2], chunksize=2)) == [1, 2]
        pool.apply_async(abs, (-4,), callback=got.append).wait(30)
        with pytest.raises(ValueError, match="bad item 3"):
            pool.apply(targets.fail_on, (3,))
        # An endless input with buffersize: only a bounded part of it is read.
        counter = itertools.count()
        it = pool.imap(abs, counter, buffersize=4)
        assert [next(it) for _ in range(10)] == list(range(10))
        assert next(counter) <= 10 + 4 + 1
    assert got == [4]
    pool.join()


def test_thread_pool_maxtasksperchild_and_close() -> None:
    from treadle import threading

    pool = ThreadPool(1)
    pool._core._maxtasks = 2  # ThreadPool has no such argument: the core supports it
    names = pool.map(lambda _: threading.get_ident(), range(4), chunksize=1)
    pool.close()
    pool.join()
    assert len(names) == 4


# ---------------------------------------------------------------------------------------
# The module's other public names.


def test_surface() -> None:
    extras = ["WorkerLostError", "RUN", "CLOSE", "TERMINATE"]
    assert check_public_surface(pool_module, "multiprocessing.pool", extras=extras) == []
    assert pool_module.AsyncResult is pool_module.ApplyResult
    assert pool_module.ApplyResult.__class_getitem__(int).__origin__ is pool_module.ApplyResult


def test_queue_worker_and_helpers() -> None:
    assert pool_module.mapstar((abs, [-1, -2])) == [1, 2]
    assert pool_module.starmapstar((targets.add, [(1, 2), (3, 4)])) == [3, 7]
    inbox: treadle.queue.SimpleQueue[Any] = treadle.queue.SimpleQueue()
    outbox: treadle.queue.SimpleQueue[Any] = treadle.queue.SimpleQueue()
    inbox.put((1, 0, targets.add, (1, 2), {}))
    inbox.put((1, 1, targets.fail_on, (3,), {}))
    inbox.put(None)
    pool_module.worker(inbox, outbox, targets.remember, ("init",), wrap_exception=True)
    assert outbox.get() == (1, 0, (True, 3))
    job, index, (ok, error) = outbox.get()
    assert (job, index, ok) == (1, 1, False)
    rebuilt = pickle.loads(pickle.dumps(error))
    assert isinstance(rebuilt, ValueError)
    assert "fail_on" in str(rebuilt.__cause__)
    with pytest.raises(AssertionError, match="Maxtasks"):
        pool_module.worker(inbox, outbox, maxtasks=0)


def test_a_failing_initializer_fails_the_task_with_its_error() -> None:
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1, initializer=targets.fail_on, initargs=(3,)) as pool:
        with pytest.raises(ValueError, match="bad item 3") as info:
            pool.apply(targets.square, (2,))
        assert "fail_on" in str(info.value.__cause__)


# The failed initializer is reported through threading.excepthook, as a thread's error.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_thread_pool_whose_initializer_fails() -> None:
    with ThreadPool(2, initializer=targets.fail_on, initargs=(3,)) as pool:
        with pytest.raises(ValueError, match="bad item 3"):
            pool.apply(abs, (-1,))
        with pytest.raises(ValueError, match="bad item 3"):
            pool.map(abs, [1, 2, 3], chunksize=1)
    pool.join()


def test_terminate_ends_a_feeder_waiting_for_room() -> None:
    for make in (ThreadPool, multiprocessing.get_context("fork").Pool):
        with make(2) as pool:
            endless = pool.imap(abs, itertools.count(), buffersize=2)
            assert [next(endless) for _ in range(3)] == [0, 1, 2]
        pool.join()  # the feeder thread ended: it would hang here (and leak) otherwise


def test_close_stops_a_bounded_feeder_so_join_ends() -> None:
    # buffersize: after close() the part of the input not yet read is not submitted (as
    # CPython does since gh-155477), so join() ends though the iterator is never drained;
    # the tasks already queued still run and the iterator ends after their results.
    for make in (ThreadPool, multiprocessing.get_context("fork").Pool):
        pool = make(2)
        counter = itertools.count()
        endless = pool.imap(abs, counter, buffersize=3)
        assert next(endless) == 0
        pool.close()
        pool.join()
        rest = list(endless)
        assert rest == list(range(1, len(rest) + 1))
        assert len(rest) <= 3  # at most the read-ahead the bound allowed
        # An unbounded imap still reads its whole input after close(), as the stdlib's.
        pool = make(2)
        full = pool.imap_unordered(abs, range(50))
        pool.close()
        pool.join()
        assert sorted(full) == list(range(50))
