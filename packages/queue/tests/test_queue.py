"""Queue, LifoQueue and PriorityQueue: the 3.14 behaviour, blocking, shutdown, hooks.

Tests taking ``impl`` run on the stdlib's ``queue`` and on ``treadle.queue``; the others
look at what only treadle has (its timeout rule, its wait lists).
"""

from __future__ import annotations

import logging
import logging.handlers
import threading
import types
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from treadle import queue as tq

KINDS = ["Queue", "LifoQueue", "PriorityQueue"]
SHUTDOWN = pytest.mark.stdlib_since((3, 13), "Queue.shutdown() and ShutDown are new in 3.13")


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


def _wait_parked(cond: Any, n: int = 1) -> None:
    """Wait (without sleeping) until *n* threads wait on one of a queue's conditions.

    ``_waiters`` is the stdlib Condition's deque and treadle's WaiterList: both have a
    length, and both hold a thread from before it drops the mutex.
    """
    ev = threading.Event()
    while len(cond._waiters) < n:
        ev.wait(0.001)


def test_generic_alias(impl: ModuleType) -> None:
    for name in [*KINDS, "SimpleQueue"]:
        cls = getattr(impl, name)
        alias = cls[int]
        assert isinstance(alias, types.GenericAlias)
        assert alias.__origin__ is cls


@pytest.mark.parametrize(
    ("kind", "order"),
    [("Queue", [3, 1, 2]), ("LifoQueue", [2, 1, 3]), ("PriorityQueue", [1, 2, 3])],
)
def test_order(impl: ModuleType, kind: str, order: list[int]) -> None:
    q = getattr(impl, kind)()
    for item in (3, 1, 2):
        q.put(item)
    assert q.qsize() == 3
    assert [q.get() for _ in range(3)] == order
    assert q.empty()


@pytest.mark.parametrize("kind", KINDS)
def test_bounded(impl: ModuleType, kind: str) -> None:
    q = getattr(impl, kind)(2)
    assert q.maxsize == 2
    assert not q.full()
    q.put(1)
    q.put_nowait(2)
    assert q.full()
    with pytest.raises(impl.Full):
        q.put(3, block=False)
    with pytest.raises(impl.Full):
        q.put(3, timeout=0.001)
    with pytest.raises(impl.Full):
        q.put(3, timeout=0)
    assert q.qsize() == 2
    q.get()
    q.get()
    with pytest.raises(impl.Empty):
        q.get(block=False)
    with pytest.raises(impl.Empty):
        q.get(timeout=0.001)
    with pytest.raises(impl.Empty):
        q.get_nowait()


def test_shrinking_maxsize(impl: ModuleType) -> None:
    q = impl.Queue(3)
    for i in range(3):
        q.put(i)
    q.maxsize = 2
    with pytest.raises(impl.Full):
        q.put_nowait(4)
    q.maxsize = 0
    q.put_nowait(4)
    assert q.qsize() == 4


@pytest.mark.parametrize("timeout", [None, 60])
def test_blocking_get_woken_by_put(impl: ModuleType, timeout: float | None) -> None:
    q = impl.Queue()
    t, out = _run(lambda: q.get(timeout=timeout))
    _wait_parked(q.not_empty)
    q.put(42)
    t.join()
    assert out == [42]


@pytest.mark.parametrize("timeout", [None, 60])
def test_blocking_put_woken_by_get(impl: ModuleType, timeout: float | None) -> None:
    q = impl.Queue(1)
    q.put(1)
    t, out = _run(lambda: q.put(2, timeout=timeout))
    _wait_parked(q.not_full)
    assert q.get() == 1
    t.join()
    assert out == [None]
    assert q.get_nowait() == 2


def test_put_and_get_wait_for_a_holder_of_the_mutex(impl: ModuleType) -> None:
    # The holder blocks (no GIL to hand over), so put() and get() block on the mutex
    # (treadle's after it stopped yielding); they finish once it is released, in order.
    q = impl.Queue()
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


def test_each_put_wakes_one_getter(impl: ModuleType) -> None:
    q = impl.Queue()
    runs = [_run(q.get) for _ in range(3)]
    _wait_parked(q.not_empty, 3)
    for i in range(3):
        q.put(i)
    for t, _ in runs:
        t.join()
    assert sorted(out[0] for _, out in runs) == [0, 1, 2]  # type: ignore[type-var]


@pytest.mark.parametrize("bad", [-1, -0.5])
def test_negative_timeout(impl: ModuleType, bad: float) -> None:
    q = impl.Queue(2)
    with pytest.raises(ValueError, match="'timeout' must be a non-negative number"):
        q.put(1, timeout=bad)
    q.put(1)
    with pytest.raises(ValueError, match="'timeout' must be a non-negative number"):
        q.get(timeout=bad)
    # block=False ignores the timeout, and so does put() on an unbounded queue
    assert q.get(False, bad) == 1
    impl.Queue().put(1, timeout=bad)


@pytest.mark.stdlib_differs("the stdlib's TypeError ('<' not supported ...) names no argument")
def test_timeout_of_wrong_type(impl: ModuleType) -> None:
    q = impl.Queue(1)
    with pytest.raises(TypeError, match="'timeout' must be a real number or None, not str"):
        q.get(timeout="1")
    with pytest.raises(TypeError, match="'timeout' must be a real number or None, not str"):
        q.put(1, timeout="1")


def test_bool_timeout_counts_as_seconds(impl: ModuleType) -> None:
    # As in the stdlib: True is one second, False is zero (do not wait).
    q = impl.Queue()
    q.put(1)
    assert q.get(timeout=True) == 1
    with pytest.raises(impl.Empty):
        q.get(timeout=False)


def test_nan_timeout() -> None:
    # Not on the stdlib: before 3.14 its get() blocks for ever on a NaN timeout.
    with pytest.raises(ValueError, match="'timeout' must not be NaN"):
        tq.Queue[int]().get(timeout=float("nan"))
    full = tq.Queue[int](1)
    full.put(1)
    with pytest.raises(ValueError, match="'timeout' must not be NaN"):
        full.put(2, timeout=float("nan"))
    # One timeout rule: refused even when there is no need to wait (the stdlib's C
    # SimpleQueue refuses it too; its Queue returns the item).
    with pytest.raises(ValueError, match="'timeout' must not be NaN"):
        full.get(timeout=float("nan"))
    assert full.get() == 1


@pytest.mark.stdlib_differs("the stdlib takes any maxsize and fails later, in put()")
@pytest.mark.parametrize("bad", ["3", None, [1]])
def test_maxsize_of_wrong_type(impl: ModuleType, bad: object) -> None:
    with pytest.raises(TypeError, match="'maxsize' must be an integer"):
        impl.Queue(bad)


def test_task_done_and_join(impl: ModuleType) -> None:
    q = impl.Queue()
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


def test_join_blocks_until_task_done(impl: ModuleType) -> None:
    q = impl.Queue()
    q.put(1)
    q.put(2)
    t, out = _run(q.join)
    _wait_parked(q.all_tasks_done)
    q.get()
    q.task_done()
    assert t.is_alive()  # one task is still not done
    assert out == []
    q.get()
    q.task_done()
    t.join()
    assert out == [None]


def test_join_wakes_every_joiner(impl: ModuleType) -> None:
    q = impl.Queue()
    q.put(1)
    runs = [_run(q.join) for _ in range(3)]
    _wait_parked(q.all_tasks_done, 3)
    q.get()
    q.task_done()
    for t, out in runs:
        t.join()
        assert out == [None]


@SHUTDOWN
def test_shutdown_drains_then_raises(impl: ModuleType) -> None:
    q = impl.Queue()
    assert not q.is_shutdown
    q.put(1)
    q.shutdown()
    assert q.is_shutdown
    with pytest.raises(impl.ShutDown):
        q.put(2)
    with pytest.raises(impl.ShutDown):
        q.put_nowait(2)
    assert q.get() == 1
    with pytest.raises(impl.ShutDown):
        q.get()
    with pytest.raises(impl.ShutDown):
        q.get_nowait()
    with pytest.raises(impl.ShutDown):
        q.get(timeout=1.0)


@SHUTDOWN
def test_shutdown_immediate_drains_and_releases_join(impl: ModuleType) -> None:
    q = impl.Queue()
    shutdown = q.shutdown  # before any thread starts: where it is missing, nothing blocks
    q.put(1)
    q.put(2)
    t, out = _run(q.join)
    _wait_parked(q.all_tasks_done)
    shutdown(immediate=True)
    t.join()
    assert out == [None]
    assert q.qsize() == 0
    assert q.unfinished_tasks == 0
    with pytest.raises(impl.ShutDown):
        q.get()
    with pytest.raises(ValueError, match="too many"):
        q.task_done()
    q.shutdown(immediate=False)  # allowed after immediate
    assert q.is_shutdown


@SHUTDOWN
def test_shutdown_wakes_blocked_getters_and_putters(impl: ModuleType) -> None:
    empty = impl.Queue()
    full = impl.Queue(1)
    shutdowns = [empty.shutdown, full.shutdown]  # before any thread starts, as above
    full.put(0)
    getters = [_run(empty.get) for _ in range(2)]
    putters = [_run(lambda: full.put(1)) for _ in range(2)]
    _wait_parked(empty.not_empty, 2)
    _wait_parked(full.not_full, 2)
    for shutdown in shutdowns:
        shutdown()
    for t, out in getters + putters:
        t.join()
        assert len(out) == 1
        assert isinstance(out[0], impl.ShutDown)


@SHUTDOWN
def test_shutdown_lets_a_woken_getter_take_an_item_left(impl: ModuleType) -> None:
    q = impl.Queue()
    shutdown = q.shutdown  # before any thread starts, as above
    t, out = _run(lambda: q.get(timeout=60))
    _wait_parked(q.not_empty)
    q.put(9)
    shutdown()  # the getter may wake only now: it still takes the item left
    t.join()
    assert out == [9]


def test_condition_attributes(impl: ModuleType) -> None:
    # Code that pokes at the stdlib's attributes keeps working.
    q = impl.Queue()
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
        assert q.not_empty.wait_for(lambda: 0, timeout=0.001) == 0
    with pytest.raises(RuntimeError):
        q.not_empty.wait(0)
    with pytest.raises(RuntimeError):
        q.not_full.notify()
    with pytest.raises(RuntimeError):
        q.not_full.notify_all()
    assert "Condition" in repr(q.not_full)


def test_external_wait_on_not_empty_is_woken(impl: ModuleType) -> None:
    q = impl.Queue()

    def waiter() -> int:
        with q.not_empty:
            while not q._qsize():  # the mutex is held: the hook, not qsize()
                q.not_empty.wait()
            size: int = q._qsize()
            return size

    t, out = _run(waiter)
    _wait_parked(q.not_empty)
    q.put(5)
    t.join()
    assert out == [1]


def test_external_notify_wakes_a_blocked_put(impl: ModuleType) -> None:
    q = impl.Queue(1)
    q.put(1)
    t, out = _run(lambda: q.put(2))
    _wait_parked(q.not_full)
    with q.mutex:
        q.queue.clear()
        q.not_full.notify()
    t.join()
    assert out == [None]
    assert q.get_nowait() == 2


def _failing_queue(impl: ModuleType, maxsize: int) -> Any:
    class FailingQueue(impl.Queue):  # type: ignore[misc,name-defined]
        fail_put = False
        fail_get = False

        def _put(self, item: int) -> None:
            if self.fail_put:
                self.fail_put = False
                raise OSError("put failed")
            super()._put(item)

        def _get(self) -> int:
            if self.fail_get:
                self.fail_get = False
                raise OSError("get failed")
            item: int = super()._get()
            return item

    return FailingQueue(maxsize)


def test_hooks_and_failures_leave_queue_usable(impl: ModuleType) -> None:
    q = _failing_queue(impl, 2)
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
    assert not q.mutex.locked()


def test_custom_container_through_hooks(impl: ModuleType) -> None:
    class SetQueue(impl.Queue):  # type: ignore[misc,name-defined]
        def _init(self, maxsize: int) -> None:
            self.queue: set[int] = set()

        def _put(self, item: int) -> None:
            self.queue.add(item)

        def _get(self) -> int:
            item: int = self.queue.pop()
            return item

    q = SetQueue()
    for i in (1, 1, 2):
        q.put(i)
    assert q.qsize() == 2
    assert {q.get(), q.get()} == {1, 2}


def test_many_producers_and_consumers(impl: ModuleType) -> None:
    q = impl.Queue(8)
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


def test_logging_queue_listener(impl: ModuleType) -> None:
    q = impl.Queue()
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


# --- treadle only ----------------------------------------------------------------------


def test_nobody_parked_after_waits_end() -> None:
    q = tq.Queue[int](1)
    with pytest.raises(tq.Empty):
        q.get(timeout=0.001)
    q.put(1)
    with pytest.raises(tq.Full):
        q.put(2, timeout=0.001)
    for cond in (q.not_empty, q.not_full, q.all_tasks_done):
        assert len(cond._waiters) == 0


def test_a_getter_woken_too_late_hands_nothing_on() -> None:
    # Two getters park; the first woken one times out while an item is taken by a
    # newcomer: the next put still wakes the other.
    q = tq.Queue[int]()
    runs = [_run(lambda: q.get(timeout=60)) for _ in range(2)]
    _wait_parked(q.not_empty, 2)
    q.put(1)
    q.put(2)
    for t, _ in runs:
        t.join()
    assert sorted(out[0] for _, out in runs) == [1, 2]  # type: ignore[type-var]
    assert len(q.not_empty._waiters) == 0
