"""treadle.sched: ordering, cancel, run(blocking=False), threads.

Tests taking ``impl`` run on the stdlib's ``sched`` and on ``treadle.sched``.
"""

from __future__ import annotations

import threading
import time
from types import ModuleType
from typing import Any

import pytest

from treadle import sched


class FakeClock:
    """A clock that moves only when told to (or when the scheduler sleeps)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        self.now += delay


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_event_fields(impl: ModuleType) -> None:
    assert impl.Event._fields == (
        "time",
        "priority",
        "sequence",
        "action",
        "argument",
        "kwargs",
    )


def test_runs_in_time_then_priority_then_entry_order(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    log: list[Any] = []
    s.enterabs(5, 2, log.append, ("t5p2",))
    s.enterabs(5, 1, log.append, ("t5p1a",))
    s.enterabs(1, 9, log.append, ("t1",))
    s.enterabs(5, 1, log.append, ("t5p1b",))
    s.enter(3, 0, lambda **kw: log.append(kw["x"]), kwargs={"x": "t3"})
    s.run()
    assert log == ["t1", "t3", "t5p1a", "t5p1b", "t5p2"]
    assert clock.now == 5
    assert s.empty()


def test_event_fields_and_ordering(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    e1 = s.enterabs(2, 1, print)
    e2 = s.enter(2, 0, print, (1,), {"sep": ""})
    assert isinstance(e1, impl.Event)
    assert e1.time == 2
    assert e1.argument == ()
    assert e1.kwargs == {}
    assert e2.kwargs == {"sep": ""}
    assert e2 < e1
    assert e1.sequence < e2.sequence
    assert s.queue == [e2, e1]


def test_queue_property_sorted_and_read_only(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    events = [s.enterabs(t, 1, print) for t in (5, 1, 4, 2, 3)]
    assert s.queue == sorted(events)
    s.queue.clear()
    assert len(s.queue) == 5
    with pytest.raises(AttributeError):
        s.queue = []


def test_cancel(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    log: list[int] = []
    events = [s.enterabs(t, 1, log.append, (t,)) for t in range(1, 6)]
    s.cancel(events[0])
    s.cancel(events[4])
    assert s.queue == events[1:4]
    with pytest.raises(ValueError, match="not in"):
        s.cancel(events[0])
    s.run()
    assert log == [2, 3, 4]
    assert clock.now == 4  # never slept towards the cancelled last event
    with pytest.raises(ValueError, match="not in"):
        s.cancel(events[1])  # already run
    with pytest.raises(ValueError, match="not in"):
        s.cancel("nonsense")


def test_cancel_correct_event_among_equal_times(impl: ModuleType) -> None:
    s = impl.scheduler()
    log: list[str] = []
    s.enterabs(1, 1, log.append, ("a",))
    b = s.enterabs(1, 1, log.append, ("b",))
    s.enterabs(1, 1, log.append, ("c",))
    s.cancel(b)
    s.run()
    assert log == ["a", "c"]


def test_event_of_another_scheduler_is_unknown(impl: ModuleType, clock: FakeClock) -> None:
    s1 = impl.scheduler(clock.time, clock.sleep)
    s2 = impl.scheduler(clock.time, clock.sleep)
    s1.enterabs(1, 1, print)
    other = s2.enterabs(9, 1, print)
    with pytest.raises(ValueError, match="not in"):
        s1.cancel(other)


def test_run_non_blocking(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    log: list[int] = []
    for t in (10, 0, 7):
        s.enter(t, 1, log.append, (t,))
    assert s.run(blocking=False) == 7
    assert log == [0]
    assert clock.sleeps == [0]
    assert impl.scheduler(clock.time, clock.sleep).run(blocking=False) is None


def test_action_exception_propagates_and_keeps_the_rest(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    log: list[int] = []

    def boom() -> None:
        raise KeyError("boom")

    s.enterabs(1, 1, boom)
    s.enterabs(2, 1, log.append, (2,))
    with pytest.raises(KeyError):
        s.run()
    assert len(s.queue) == 1
    s.run()
    assert log == [2]


def test_delayfunc_exception_propagates_and_keeps_the_events(
    impl: ModuleType, clock: FakeClock
) -> None:
    def sleep(delay: float) -> None:
        if delay:
            raise InterruptedError("woken")
        clock.sleep(delay)

    s = impl.scheduler(clock.time, sleep)
    log: list[int] = []
    s.enterabs(0, 1, log.append, (0,))
    s.enterabs(5, 1, log.append, (5,))
    with pytest.raises(InterruptedError):
        s.run()
    assert log == [0]
    assert [e.time for e in s.queue] == [5]
    clock.now = 5
    s.run()
    assert log == [0, 5]


def test_cancelled_events_are_not_waited_for(impl: ModuleType, clock: FakeClock) -> None:
    s = impl.scheduler(clock.time, clock.sleep)
    log: list[int] = []
    first = s.enterabs(1, 1, log.append, (1,))
    s.enterabs(3, 1, log.append, (3,))
    last = s.enterabs(9, 1, log.append, (9,))
    s.cancel(first)
    assert s.run(blocking=False) == 3
    s.cancel(last)
    s.run()
    assert log == [3]
    assert clock.now == 3
    s.cancel(s.enterabs(10, 1, log.append, (10,)))
    assert s.run(blocking=False) is None
    assert s.empty()


@pytest.mark.stdlib_differs("the stdlib takes anything and fails in run()")
def test_bad_arguments(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="timefunc"):
        impl.scheduler(1)
    with pytest.raises(TypeError, match="delayfunc"):
        impl.scheduler(time.monotonic, None)


def test_threads_enter_cancel_and_run_at_once(impl: ModuleType) -> None:
    s = impl.scheduler(time.monotonic, time.sleep)
    ran: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def act(i: int) -> None:
        with lock:
            ran.append(i)

    kept: list[int] = []

    def worker(base: int) -> None:
        start.wait()
        mine = [s.enter(0, 1, act, (base + i,)) for i in range(500)]
        for e in mine[::2]:
            try:
                s.cancel(e)
            except ValueError:
                kept.append(e.argument[0])  # already run by a runner
        s.run()

    threads = [threading.Thread(target=worker, args=(k * 1000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    s.run()
    expected = sorted([k * 1000 + i for k in range(4) for i in range(1, 500, 2)] + kept)
    assert sorted(ran) == expected
    assert s.empty()


def test_run_from_thread_sees_events_entered_later(impl: ModuleType) -> None:
    s = impl.scheduler(time.monotonic, time.sleep)
    done = threading.Event()
    s.enter(0.05, 1, lambda: None)
    t = threading.Thread(target=s.run)
    t.start()
    s.enter(0, 0, done.set)
    assert done.wait(30)
    t.join()
    assert s.empty()


# --- treadle only ----------------------------------------------------------------------


def test_many_cancels_compact_the_heap(clock: FakeClock) -> None:
    s = sched.scheduler(clock.time, clock.sleep)
    log: list[int] = []
    events = [s.enterabs(i, 1, log.append, (i,)) for i in range(1000)]
    for e in events[::2] + events[1::4]:
        s.cancel(e)
    assert len(s._heap) < 1000  # rebuilt on the way
    s.run()
    assert log == [e.time for e in events[3::4]]
    assert s.empty()
