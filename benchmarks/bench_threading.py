"""treadle.threading against the stdlib's ``threading``.

Targets (issue 4): Condition notify/wait and Event set/wait ping-pong between two threads,
and thread start + join, at least as fast as the stdlib; uncontended Semaphore and
BoundedSemaphore acquire + release at least 4x faster than the stdlib's. ``Lock()``
(issue 12): treadle's is a class of its own on every version (the stdlib's is a builtin
function before 3.13 and the interpreter's lock type after), whose call goes through its
metaclass to the interpreter's ``allocate_lock``: it may cost one slot call more.
"""

from __future__ import annotations

import threading as std
import time
import timeit
from collections.abc import Callable
from typing import Any

from _harness import Case

from treadle import threading as ours

__all__ = ["CASES"]

Timed = Callable[[int], float]


def _semaphore(module: Any, kind: str) -> Timed:
    def run(n: int) -> float:
        sem = getattr(module, kind)(1)
        acquire, release = sem.acquire, sem.release
        t0 = time.perf_counter()
        for _ in range(n):
            acquire()
            release()
        return time.perf_counter() - t0

    return run


def _semaphore_with(module: Any, kind: str) -> Timed:
    def run(n: int) -> float:
        sem = getattr(module, kind)(1)
        t0 = time.perf_counter()
        for _ in range(n):
            with sem:
                pass
        return time.perf_counter() - t0

    return run


def _condition_ping_pong(module: Any) -> Timed:
    def run(n: int) -> float:
        cond = module.Condition()
        turn = [0]

        def other() -> None:
            with cond:
                for i in range(n):
                    while turn[0] != 2 * i + 1:
                        cond.wait()
                    turn[0] += 1
                    cond.notify()

        thread = module.Thread(target=other)
        thread.start()
        t0 = time.perf_counter()
        with cond:
            for i in range(n):
                turn[0] += 1
                cond.notify()
                while turn[0] != 2 * i + 2:
                    cond.wait()
        elapsed = time.perf_counter() - t0
        thread.join()
        return elapsed

    return run


def _event_ping_pong(module: Any) -> Timed:
    def run(n: int) -> float:
        ping, pong = module.Event(), module.Event()

        def other() -> None:
            for _ in range(n):
                ping.wait()
                ping.clear()
                pong.set()

        thread = module.Thread(target=other)
        thread.start()
        t0 = time.perf_counter()
        for _ in range(n):
            ping.set()
            pong.wait()
            pong.clear()
        elapsed = time.perf_counter() - t0
        thread.join()
        return elapsed

    return run


def _start_join(module: Any) -> Timed:
    def run(n: int) -> float:
        def work() -> None:
            pass

        t0 = time.perf_counter()
        for _ in range(n):
            thread = module.Thread(target=work)
            thread.start()
            thread.join()
        return time.perf_counter() - t0

    return run


def _lock_creation(module: Any) -> Timed:
    def run(n: int) -> float:
        return timeit.Timer(module.Lock).timeit(n)

    return run


CASES: list[Case] = [
    Case(
        "Semaphore acquire+release (uncontended)",
        _semaphore(std, "Semaphore"),
        _semaphore(ours, "Semaphore"),
        n=100_000,
        target=4.0,
    ),
    Case(
        "BoundedSemaphore acquire+release (uncontended)",
        _semaphore(std, "BoundedSemaphore"),
        _semaphore(ours, "BoundedSemaphore"),
        n=100_000,
        target=4.0,
    ),
    Case(
        "Semaphore with-block (uncontended)",
        _semaphore_with(std, "Semaphore"),
        _semaphore_with(ours, "Semaphore"),
        n=100_000,
        target=4.0,
    ),
    Case(
        "Condition notify/wait ping-pong",
        _condition_ping_pong(std),
        _condition_ping_pong(ours),
        n=2_000,
        target=1.0,
    ),
    Case(
        "Event set/wait ping-pong",
        _event_ping_pong(std),
        _event_ping_pong(ours),
        n=2_000,
        target=1.0,
    ),
    Case(
        "Lock() creation",
        _lock_creation(std),
        _lock_creation(ours),
        n=200_000,
        target=0.6,
        note="one metaclass call more than the interpreter's lock type",
    ),
    Case(
        "Thread start+join",
        _start_join(std),
        _start_join(ours),
        n=500,
        target=1.0,
    ),
]
