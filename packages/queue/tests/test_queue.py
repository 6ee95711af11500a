"""Queue, LifoQueue and PriorityQueue: the 3.14 behaviour, blocking, shutdown, hooks."""

from __future__ import annotations

import logging
import logging.handlers
import queue as std_queue
import threading
import types
from collections.abc import Callable
from typing import Any

import pytest

from treadle import queue as tq

ALL = [tq.Queue, tq.LifoQueue, tq.PriorityQueue]


def _run(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start *target* in a thread; its result or exception lands in the list."""
    out: list[object] = []

    def body() -> None:
        try:
            out.append(target())
        except BaseException as exc:
            out.append(exc)

    t = threading.Thread(target=body)
    t.start()
    return t, out


def _wait_parked(waiters: Any, n: int = 1) -> None:
    """Wait (without sleeping) until *n* threads are parked in a queue's wait list."""
    ev = threading.Event()
    while len(waiters._waiters) < n:
        ev.wait(0.001)


@pytest.fixture
def q() -> tq.Queue[int]:
    return tq.Queue()


def test_public_names() -> None:
    assert set(tq.__all__) == {
        "Empty",
        "Full",
        "LifoQueue",
        "PriorityQueue",
        "Queue",
        "ShutDown",
        "SimpleQueue",
    }
    for name in tq.__all__:
        assert getattr(tq, name).__module__ == "treadle.queue"
    assert repr(tq.Queue).startswith("<class 'treadle.queue.Queue'")


def test_exceptions_derive_from_stdlib() -> None:
    assert issubclass(tq.Empty, std_queue.Empty)
    assert issubclass(tq.Full, std_queue.Full)
    assert issubclass(tq.ShutDown, Exception)
    if hasattr(std_queue, "ShutDown"):
        assert issubclass(tq.ShutDown, std_queue.ShutDown)
    with pytest.raises(std_queue.Empty):
        tq.Queue().get_nowait()
    q = tq.Queue[int](1)
    q.put(1)
    with pytest.raises(std_queue.Full):
        q.put_nowait(2)


def test_generic_alias() -> None:
    alias: object = tq.Queue[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is tq.Queue
    assert getattr(tq.PriorityQueue[str], "__origin__", None) is tq.PriorityQueue
    assert getattr(tq.SimpleQueue[int], "__origin__", None) is tq.SimpleQueue


@pytest.mark.parametrize(
    ("cls", "order"),
    [(tq.Queue, [3, 1, 2]), (tq.LifoQueue, [2, 1, 3]), (tq.PriorityQueue, [1, 2, 3])],
)
def test_order(cls: type[tq.Queue[int]], order: list[int]) -> None:
    q = cls()
    for item in (3, 1, 2):
        q.put(item)
    assert q.qsize() == 3
    assert [q.get() for _ in range(3)] == order
    assert q.empty()


@pytest.mark.parametrize("cls", ALL)
def test_bounded(cls: type[tq.Queue[int]]) -> None:
    q = cls(2)
    assert q.maxsize == 2
    assert not q.full()
    q.put(1)
    q.put_nowait(2)
    assert q.full()
    with pytest.raises(tq.Full):
        q.put(3, block=False)
    with pytest.raises(tq.Full):
        q.put(3, timeout=0.001)
    with pytest.raises(tq.Full):
        q.put(3, timeout=0)
    assert q.qsize() == 2
    q.get()
    q.get()
    with pytest.raises(tq.Empty):
        q.get(block=False)
    with pytest.raises(tq.Empty):
        q.get(timeout=0.001)
    with pytest.raises(tq.Empty):
        q.get_nowait()


def test_shrinking_maxsize() -> None:
    q = tq.Queue[int](3)
    for i in range(3):
        q.put(i)
    q.maxsize = 2
    with pytest.raises(tq.Full):
        q.put_nowait(4)
    q.maxsize = 0
    q.put_nowait(4)
    assert q.qsize() == 4


def test_blocking_get_woken_by_put(q: tq.Queue[int]) -> None:
    t, out = _run(q.get)
    _wait_parked(q.not_empty)
    q.put(42)
    t.join()
    assert out == [42]


def test_blocking_put_woken_by_get() -> None:
    q = tq.Queue[int](1)
    q.put(1)
    t, out = _run(lambda: q.put(2))
    _wait_parked(q.not_full)
    assert q.get() == 1
    t.join()
    assert out == [None]
    assert q.get_nowait() == 2


def test_put_and_get_wait_for_a_holder_of_the_mutex(q: tq.Queue[int]) -> None:
    # The holder blocks (no GIL to hand over), so put() and get() give up yielding and
    # block on the mutex; they finish once it is released, in order.
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with q.mutex:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(60)
    putter, put_out = _run(lambda: q.put(5))
    getter, get_out = _run(q.get)
    assert put_out == []
    assert get_out == []
    release.set()
    for t in (holder, putter, getter):
        t.join(60)
    assert put_out == [None]
    assert get_out == [5]
    assert q.empty()
    assert not q.mutex.locked()


def test_timed_get_woken_by_put(q: tq.Queue[int]) -> None:
    t, out = _run(lambda: q.get(timeout=60))
    _wait_parked(q.not_empty)
    q.put(7)
    t.join()
    assert out == [7]


def test_each_put_wakes_one_getter(q: tq.Queue[int]) -> None:
    runs = [_run(q.get) for _ in range(3)]
    _wait_parked(q.not_empty, 3)
    for i in range(3):
        q.put(i)
    for t, _ in runs:
        t.join()
    assert sorted(out[0] for _, out in runs) == [0, 1, 2]  # type: ignore[type-var]


@pytest.mark.parametrize("bad", [-1, -0.5])
def test_negative_timeout(bad: float) -> None:
    q = tq.Queue[int](2)
    with pytest.raises(ValueError, match="non-negative"):
        q.put(1, timeout=bad)
    q.put(1)
    with pytest.raises(ValueError, match="non-negative"):
        q.get(timeout=bad)
    # block=False ignores the timeout, like the stdlib
    assert q.get(False, bad) == 1


def test_nan_timeout_raises_when_waiting(q: tq.Queue[int]) -> None:
    with pytest.raises(ValueError, match="NaN"):
        q.get(timeout=float("nan"))
    full = tq.Queue[int](1)
    full.put(1)
    with pytest.raises(ValueError, match="NaN"):
        full.put(2, timeout=float("nan"))


def test_timeout_of_wrong_type(q: tq.Queue[int]) -> None:
    with pytest.raises(TypeError, match="timeout"):
        q.get(timeout="1")  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["3", None, [1]])
def test_maxsize_of_wrong_type(bad: object) -> None:
    with pytest.raises(TypeError, match="maxsize"):
        tq.Queue(bad)  # type: ignore[arg-type]


def test_task_done_and_join(q: tq.Queue[int]) -> None:
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    total: list[int] = []

    def worker() -> None:
        while (item := q.get()) >= 0:
            total.append(item)
            q.task_done()
        q.task_done()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for w in workers:
        w.start()
    for i in range(100):
        q.put(i)
    q.join()
    assert sum(total) == sum(range(100))
    assert q.unfinished_tasks == 0
    for _ in workers:
        q.put(-1)
    q.join()
    for w in workers:
        w.join()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()


def test_join_blocks_until_task_done(q: tq.Queue[int]) -> None:
    q.put(1)
    t, out = _run(q.join)
    _wait_parked(q.all_tasks_done)
    assert t.is_alive()
    q.get()
    q.task_done()
    t.join()
    assert out == [None]


def test_shutdown_drains_then_raises(q: tq.Queue[int]) -> None:
    assert not tq.Queue().is_shutdown
    q.put(1)
    q.shutdown()
    assert q.is_shutdown
    with pytest.raises(tq.ShutDown):
        q.put(2)
    with pytest.raises(tq.ShutDown):
        q.put_nowait(2)
    assert q.get() == 1
    with pytest.raises(tq.ShutDown):
        q.get()
    with pytest.raises(tq.ShutDown):
        q.get_nowait()
    with pytest.raises(tq.ShutDown):
        q.get(timeout=1.0)


def test_shutdown_immediate_drains_and_releases_join(q: tq.Queue[int]) -> None:
    q.put(1)
    q.put(2)
    t, out = _run(q.join)
    _wait_parked(q.all_tasks_done)
    q.shutdown(immediate=True)
    t.join()
    assert out == [None]
    assert q.qsize() == 0
    assert q.unfinished_tasks == 0
    with pytest.raises(tq.ShutDown):
        q.get()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    q.shutdown(immediate=False)  # allowed after immediate
    assert q.is_shutdown


def test_shutdown_wakes_blocked_getters_and_putters() -> None:
    empty = tq.Queue[int]()
    full = tq.Queue[int](1)
    full.put(0)
    getters = [_run(empty.get) for _ in range(2)]
    putters = [_run(lambda: full.put(1)) for _ in range(2)]
    _wait_parked(empty.not_empty, 2)
    _wait_parked(full.not_full, 2)
    empty.shutdown()
    full.shutdown()
    for t, out in getters + putters:
        t.join()
        assert len(out) == 1
        assert isinstance(out[0], tq.ShutDown)


def test_condition_attributes(q: tq.Queue[int]) -> None:
    # Code that pokes at the stdlib's attributes keeps working.
    q.put(1)
    with q.mutex:
        q.queue.clear()
        q.unfinished_tasks = 0
        q.all_tasks_done.notify_all()
    assert q.empty()
    with q.not_empty:
        assert q.mutex.locked()
        assert q.not_empty.wait(0) is False
        assert q.not_empty.wait_for(lambda: 5) == 5
    with pytest.raises(RuntimeError):
        q.not_empty.wait(0)
    with pytest.raises(RuntimeError):
        q.not_full.notify()
    assert "Condition" in repr(q.not_full)


def test_external_wait_on_not_empty_is_woken(q: tq.Queue[int]) -> None:
    def waiter() -> int:
        with q.not_empty:
            while not q._qsize():  # the mutex is held: the hook, not qsize()
                q.not_empty.wait()
            return q._qsize()

    t, out = _run(waiter)
    _wait_parked(q.not_empty)
    q.put(5)
    t.join()
    assert out == [1]


class _FailingQueue(tq.Queue[int]):
    def __init__(self, maxsize: int = 0) -> None:
        self.fail_put = False
        self.fail_get = False
        super().__init__(maxsize)

    def _put(self, item: int) -> None:
        if self.fail_put:
            self.fail_put = False
            raise OSError("put failed")
        super()._put(item)

    def _get(self) -> int:
        if self.fail_get:
            self.fail_get = False
            raise OSError("get failed")
        return super()._get()


def test_hooks_and_failures_leave_queue_usable() -> None:
    q = _FailingQueue(2)
    q.fail_put = True
    with pytest.raises(OSError, match="put failed"):
        q.put(1)
    assert q.qsize() == 0
    assert q.unfinished_tasks == 0
    q.put(1)
    q.fail_get = True
    with pytest.raises(OSError, match="get failed"):
        q.get()
    assert q.qsize() == 1
    assert q.get() == 1


def test_custom_container_through_hooks() -> None:
    class SetQueue(tq.Queue[int]):
        def _init(self, maxsize: int) -> None:
            self.queue = set()

        def _put(self, item: int) -> None:
            self.queue.add(item)

        def _get(self) -> int:
            return self.queue.pop()  # type: ignore[no-any-return]

    q = SetQueue()
    for i in (1, 1, 2):
        q.put(i)
    assert q.qsize() == 2
    assert {q.get(), q.get()} == {1, 2}


def test_many_producers_and_consumers() -> None:
    q = tq.Queue[int](8)
    n, pairs = 2000, 4
    got: list[int] = []
    lock = threading.Lock()

    def produce(base: int) -> None:
        for i in range(n):
            q.put(base + i)

    def consume() -> None:
        mine = [q.get() for _ in range(n)]
        with lock:
            got.extend(mine)

    threads = [threading.Thread(target=produce, args=(k * n,)) for k in range(pairs)]
    threads += [threading.Thread(target=consume) for _ in range(pairs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(n * pairs))
    assert q.empty()


def test_logging_queue_listener() -> None:
    q: tq.Queue[logging.LogRecord] = tq.Queue()
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    listener = logging.handlers.QueueListener(q, Collect())
    logger = logging.getLogger("treadle.queue.test")
    logger.propagate = False
    handler = logging.handlers.QueueHandler(q)
    logger.addHandler(handler)
    try:
        listener.start()
        logger.warning("hello %s", "world")
        logger.warning("second")
        listener.stop()
    finally:
        logger.removeHandler(handler)
    assert records == ["hello world", "second"]
