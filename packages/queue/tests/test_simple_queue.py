"""SimpleQueue: FIFO, blocking get, reentrant put, many threads.

Tests taking ``impl`` run on the stdlib's C ``SimpleQueue`` and on treadle's.
"""

from __future__ import annotations

import gc
import signal
import threading
import weakref
from collections.abc import Callable
from itertools import count
from types import ModuleType
from typing import Any

import pytest

from treadle import queue as tq


def _wait_parked(q: Any, n: int = 1) -> None:
    """Wait (without sleeping) until *n* getters are parked in treadle's queue *q*.

    The stdlib's C queue does not show its waiters: there the test goes on at once, and
    still holds (a getter that has not parked yet finds the item).
    """
    gates = getattr(q, "_gates", None)
    if gates is None:
        return
    ev = threading.Event()
    while len(gates) < n:
        ev.wait(0.001)


def test_basic(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    assert q.empty()
    assert q.qsize() == 0
    q.put(1)
    q.put_nowait(2)
    q.put(3, block=False, timeout=-5)  # ignored, as documented
    assert q.qsize() == 3
    assert not q.empty()
    assert q.get() == 1
    assert q.get_nowait() == 2
    assert q.get(timeout=0.1) == 3
    with pytest.raises(impl.Empty):
        q.get(block=False)
    with pytest.raises(impl.Empty):
        q.get(timeout=0.001)
    with pytest.raises(impl.Empty):
        q.get_nowait()


def test_bad_timeouts(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    q.put(1)
    with pytest.raises(ValueError, match="'timeout' must be a non-negative number"):
        q.get(timeout=-1)
    with pytest.raises(ValueError, match="NaN"):
        q.get(timeout=float("nan"))
    with pytest.raises(impl.Empty):
        impl.SimpleQueue().get(block=False, timeout=-1)  # timeout ignored
    with pytest.raises(ValueError, match="NaN"):
        impl.SimpleQueue().get(timeout=float("nan"))
    assert q.get() == 1


@pytest.mark.stdlib_differs("the C queue's TypeError names no argument")
def test_timeout_of_wrong_type(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    q.put(1)
    with pytest.raises(TypeError, match="'timeout' must be a real number or None, not str"):
        q.get(timeout="x")
    assert q.get(timeout=True) == 1  # a bool counts as seconds, as in the stdlib


def _start(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(target()))
    t.start()
    return t, out


def test_blocking_get(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    t, out = _start(q.get)
    _wait_parked(q)
    q.put("x")
    t.join()
    assert out == ["x"]


def test_timed_get_woken(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    t, out = _start(lambda: q.get(timeout=60))
    _wait_parked(q)
    q.put("y")
    t.join()
    assert out == ["y"]


def test_each_put_wakes_a_getter(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    runs = [_start(q.get) for _ in range(4)]
    _wait_parked(q, 4)
    for i in range(4):
        q.put(i)
    for t, _ in runs:
        t.join()
    assert sorted(out[0] for _, out in runs) == [0, 1, 2, 3]  # type: ignore[type-var]


@pytest.mark.parametrize("mode", ["block", "timeout", "nonblock"])
def test_many_threads(impl: ModuleType, mode: str) -> None:
    q = impl.SimpleQueue()
    n, threads_each = 3000, 4
    results: list[int] = []
    lock = threading.Lock()
    pause = threading.Event()

    def get() -> int | None:
        item: int | None
        if mode == "block":
            item = q.get()
            return item
        while True:
            try:
                item = q.get(timeout=1e-4) if mode == "timeout" else q.get(block=False)
                return item
            except impl.Empty:
                pause.wait(1e-5)

    def feed(base: int) -> None:
        for i in range(n):
            q.put(base + i)
        q.put(None)

    def consume() -> None:
        mine = []
        while (item := get()) is not None:
            mine.append(item)
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=feed, args=(k * n,)) for k in range(threads_each)]
    threads += [threading.Thread(target=consume) for _ in range(threads_each)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(n * threads_each))
    assert q.empty()


def test_order_one_producer_one_consumer(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    n = 5000
    t, out = _start(lambda: [q.get() for _ in range(n)])
    for i in range(n):
        q.put(i)
    t.join()
    assert out == [list(range(n))]


def test_reentrant_put_from_del(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    gen = count()
    results: list[int] = []

    class Cycle:
        def __init__(self) -> None:
            self.me = self

        def __del__(self) -> None:
            q.put(next(gen))

    old = gc.get_threshold()
    gc.set_threshold(5)
    try:
        while True:
            obj = Cycle()
            q.put(next(gen))
            del obj
            results.append(q.get())
            if results[-1] >= 3000:
                break
    finally:
        gc.set_threshold(*old)
        gc.collect()
    assert results == list(range(3001))


def test_put_from_signal_handler_while_get_blocks(impl: ModuleType) -> None:
    q = impl.SimpleQueue()

    def handler(signum: int, frame: object) -> None:
        q.put("from handler")

    main = threading.get_ident()

    def interrupt() -> None:
        _wait_parked(q)  # the main thread is blocked in get()
        signal.pthread_kill(main, signal.SIGUSR1)

    old = signal.signal(signal.SIGUSR1, handler)
    try:
        t = threading.Thread(target=interrupt)
        t.start()
        try:
            assert q.get(timeout=30) == "from handler"
        finally:
            t.join()
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_references_dropped(impl: ModuleType) -> None:
    class C:
        pass

    q = impl.SimpleQueue()
    for _ in range(10):
        q.put(C())
    for _ in range(10):
        ref = weakref.ref(q.get())
        gc.collect()
        assert ref() is None


def test_weakref_to_queue(impl: ModuleType) -> None:
    q = impl.SimpleQueue()
    assert weakref.ref(q)() is q


# --- treadle only ----------------------------------------------------------------------


def test_no_gate_left_behind() -> None:
    q = tq.SimpleQueue[str]()
    t, out = _start(q.get)
    _wait_parked(q)
    q.put("x")
    t.join()
    with pytest.raises(tq.Empty):
        q.get(timeout=0.001)
    assert out == ["x"]
    assert q._gates == []


def test_subclass_overrides_win_over_the_fast_paths() -> None:
    class Counting(tq.SimpleQueue[int]):
        puts = 0

        def put(self, item: int, block: bool = True, timeout: float | None = None) -> None:
            self.puts += 1
            super().put(item, block, timeout)

    q = Counting()
    q.put(1)
    q.put_nowait(2)
    assert q.puts == 2
    assert q.get() == 1  # the class's get, made fast for this instance
    assert tq.SimpleQueue.get(q) == 2  # and the plain method, through the class
    tq.SimpleQueue.put(q, 3)
    assert q.get_nowait() == 3
