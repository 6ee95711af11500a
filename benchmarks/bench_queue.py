"""treadle.queue against the stdlib's ``queue``.

Issue targets: ``Queue`` put+get in one thread and producer/consumer with 1:1 and 4:4
threads at least 1.5x the stdlib's throughput; ``PriorityQueue`` at least the stdlib's;
``SimpleQueue`` within 2x of the stdlib's C one.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

from _harness import Case

from treadle import queue as tqueue


def _put_get(make: Any) -> Any:
    def run(n: int) -> float:
        q = make()
        put, get = q.put, q.get
        t0 = time.perf_counter()
        for i in range(n):
            put(i)
            get()
        return time.perf_counter() - t0

    return run


def _fill_drain(make: Any) -> Any:
    # n puts then n gets: the container really holds n items (a heap of n for priorities).
    def run(n: int) -> float:
        q = make()
        put, get = q.put, q.get
        keys = [(i * 7919) % n for i in range(n)]
        t0 = time.perf_counter()
        for k in keys:
            put(k)
        for _ in range(n):
            get()
        return time.perf_counter() - t0

    return run


def _producer_consumer(make: Any, pairs: int, maxsize: int) -> Any:
    """*pairs* producers and *pairs* consumers move n items through one queue."""

    def run(n: int) -> float:
        q = make(maxsize)
        per = max(1, n // pairs)
        go = threading.Event()

        def produce() -> None:
            go.wait()
            put = q.put
            for i in range(per):
                put(i)

        def consume() -> None:
            go.wait()
            get = q.get
            for _ in range(per):
                get()

        threads = [threading.Thread(target=produce) for _ in range(pairs)]
        threads += [threading.Thread(target=consume) for _ in range(pairs)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        return (time.perf_counter() - t0) * n / (per * pairs)

    return run


def _simple_consumer(make: Any) -> Any:
    def run(n: int) -> float:
        q = make()
        go = threading.Event()

        def consume() -> None:
            go.wait()
            get = q.get
            for _ in range(n):
                get()

        t = threading.Thread(target=consume)
        t.start()
        put = q.put
        t0 = time.perf_counter()
        go.set()
        for i in range(n):
            put(i)
        t.join()
        return time.perf_counter() - t0

    return run


CASES = [
    Case(
        "Queue put+get, one thread",
        _put_get(queue.Queue),
        _put_get(tqueue.Queue),
        n=100_000,
        target=1.5,
    ),
    Case(
        "Queue(100) put+get, one thread",
        _put_get(lambda: queue.Queue(100)),
        _put_get(lambda: tqueue.Queue(100)),
        n=100_000,
        target=1.5,
    ),
    Case(
        "Queue producer/consumer 1:1, maxsize 100",
        _producer_consumer(queue.Queue, 1, 100),
        _producer_consumer(tqueue.Queue, 1, 100),
        n=50_000,
        target=1.5,
    ),
    Case(
        "Queue producer/consumer 4:4, maxsize 100",
        _producer_consumer(queue.Queue, 4, 100),
        _producer_consumer(tqueue.Queue, 4, 100),
        n=50_000,
        target=1.5,
    ),
    Case(
        "Queue producer/consumer 1:1, unbounded",
        _producer_consumer(queue.Queue, 1, 0),
        _producer_consumer(tqueue.Queue, 1, 0),
        n=50_000,
        target=1.5,
    ),
    Case(
        "Queue producer/consumer 4:4, unbounded",
        _producer_consumer(queue.Queue, 4, 0),
        _producer_consumer(tqueue.Queue, 4, 0),
        n=50_000,
        target=1.5,
    ),
    Case(
        "PriorityQueue fill+drain 10k",
        _fill_drain(queue.PriorityQueue),
        _fill_drain(tqueue.PriorityQueue),
        n=10_000,
        target=1.0,
    ),
    Case(
        "LifoQueue put+get, one thread",
        _put_get(queue.LifoQueue),
        _put_get(tqueue.LifoQueue),
        n=100_000,
        target=1.0,
    ),
    Case(
        "SimpleQueue put+get, one thread",
        _put_get(queue.SimpleQueue),
        _put_get(tqueue.SimpleQueue),
        n=200_000,
        target=1 / 2,
        note="against the interpreter's C _queue.SimpleQueue",
    ),
    Case(
        "SimpleQueue producer -> consumer thread",
        _simple_consumer(queue.SimpleQueue),
        _simple_consumer(tqueue.SimpleQueue),
        n=50_000,
        target=1 / 2,
        note="against the interpreter's C _queue.SimpleQueue",
    ),
]
