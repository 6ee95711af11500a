"""Tests of the synchronisation primitives of treadle.threading."""

from __future__ import annotations

import pytest

from treadle import threading as tt


def _run(fn: object, n: int = 1) -> list[tt.Thread]:
    threads = [tt.Thread(target=fn) for _ in range(n)]  # type: ignore[arg-type]
    for t in threads:
        t.start()
    return threads


def _join(threads: list[tt.Thread]) -> None:
    for t in threads:
        t.join()


# ---------------------------------------------------------------------------- locks


def test_lock_is_the_interpreter_lock() -> None:
    lock = tt.Lock()
    assert lock.acquire()
    assert lock.locked()
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


def test_rlock_reentrant_and_locked() -> None:
    lock = tt.RLock()
    with lock, lock:
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


def test_rlock_arguments_deprecated() -> None:
    with pytest.warns(DeprecationWarning, match="RLock"):
        tt.RLock(1)


def test_py_rlock() -> None:
    lock = tt._PyRLock()
    with lock, lock:
        assert lock.locked()
        assert lock._is_owned()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()
    assert "_PyRLock" in repr(lock)


# ------------------------------------------------------------------------ Condition


def test_condition_wait_notify() -> None:
    cond = tt.Condition()
    ready: list[int] = []
    woke = tt.Event()

    def waiter() -> None:
        with cond:
            ready.append(1)
            cond.notify()
            cond.wait_for(lambda: len(ready) == 2)
        woke.set()

    (t,) = _run(waiter)
    with cond:
        cond.wait_for(lambda: ready)
        ready.append(2)
        cond.notify_all()
    assert woke.wait(30)
    t.join()


def test_condition_notify_n() -> None:
    cond = tt.Condition(tt.Lock())
    count = [0]
    waiting = tt.Semaphore(0)
    go = [False]

    def waiter() -> None:
        with cond:
            waiting.release()
            cond.wait_for(lambda: go[0])
            count[0] += 1

    threads = _run(waiter, 3)
    for _ in range(3):
        waiting.acquire()
    with cond:
        go[0] = True
        cond.notify(3)
    _join(threads)
    assert count[0] == 3


def test_condition_requires_lock() -> None:
    cond = tt.Condition()
    with pytest.raises(RuntimeError):
        cond.wait()
    with pytest.raises(RuntimeError):
        cond.notify()
    assert not cond.locked()
    with cond:
        assert cond.locked()
        assert cond.wait(0) is False
        assert cond.wait(-1) is False  # a negative timeout waits for nothing (3.14)
        with pytest.raises(ValueError, match="NaN"):
            cond.wait(float("nan"))
        with pytest.raises(TypeError, match="timeout"):
            cond.wait("1")  # type: ignore[arg-type]
        assert cond.wait_for(lambda: 0, 0) == 0


def test_condition_notifyall_deprecated() -> None:
    cond = tt.Condition()
    with cond, pytest.warns(DeprecationWarning, match="notify_all"):
        cond.notifyAll()


# ------------------------------------------------------------------------ Semaphore


def test_semaphore_counts() -> None:
    sem = tt.Semaphore(2)
    assert sem.acquire()
    assert sem.acquire(blocking=False)
    assert not sem.acquire(blocking=False)
    assert not sem.acquire(timeout=0)
    sem.release(2)
    assert "value=2" in repr(sem)
    with sem:
        assert sem._value == 1


def test_semaphore_bad_input() -> None:
    with pytest.raises(ValueError, match="initial value"):
        tt.Semaphore(-1)
    with pytest.raises(TypeError, match="value"):
        tt.Semaphore("3")  # type: ignore[arg-type]
    sem = tt.Semaphore(0)
    with pytest.raises(ValueError, match="non-blocking"):
        sem.acquire(False, timeout=1)
    with pytest.raises(ValueError, match="NaN"):
        sem.acquire(timeout=float("nan"))
    with pytest.raises(ValueError, match="one or more"):
        sem.release(0)


def test_semaphore_blocks_until_release() -> None:
    sem = tt.Semaphore(0)
    got: list[int] = []

    def taker() -> None:
        for _ in range(100):
            sem.acquire()
            got.append(1)

    threads = _run(taker, 4)
    for _ in range(400):
        sem.release()
    _join(threads)
    assert len(got) == 400
    assert sem._value == 0


def test_semaphore_large_value() -> None:
    sem = tt.Semaphore(10**7)
    assert sem._value == 10**7
    for _ in range(5000):
        sem.acquire()
    assert sem._value == 10**7 - 5000
    sem.release(5000)
    assert sem._value == 10**7


def test_bounded_semaphore() -> None:
    sem = tt.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="too many"):
        sem.release()
    sem.acquire()
    sem.release()
    assert "value=2/2" in repr(sem)
    big = tt.BoundedSemaphore(10**6)
    big.acquire()
    big.release()
    with pytest.raises(ValueError, match="too many"):
        big.release()


def test_bounded_semaphore_contended() -> None:
    sem = tt.BoundedSemaphore(3)

    def worker() -> None:
        for _ in range(500):
            with sem:
                pass

    _join(_run(worker, 4))
    assert sem._value == 3


# ---------------------------------------------------------------------------- Event


def test_event() -> None:
    evt = tt.Event()
    assert not evt.is_set()
    assert "unset" in repr(evt)
    assert evt.wait(0) is False
    (t,) = _run(evt.set)
    assert evt.wait(30)
    t.join()
    assert evt.is_set()
    assert "set" in repr(evt)
    evt.clear()
    assert not evt.is_set()
    with pytest.raises(ValueError, match="NaN"):
        evt.wait(float("nan"))
    with pytest.warns(DeprecationWarning, match="is_set"):
        evt.isSet()


def test_event_wakes_every_waiter() -> None:
    evt = tt.Event()
    entered = tt.Semaphore(0)
    woke: list[bool] = []

    def waiter() -> None:
        entered.release()
        woke.append(evt.wait())

    threads = _run(waiter, 5)
    for _ in range(5):
        entered.acquire()
    evt.set()
    _join(threads)
    assert woke == [True] * 5


# -------------------------------------------------------------------------- Barrier


def test_barrier_passes_and_runs_action() -> None:
    calls: list[int] = []
    barrier = tt.Barrier(3, action=lambda: calls.append(1))
    indices: list[int] = []

    def party() -> None:
        indices.append(barrier.wait())

    _join(_run(party, 3))
    assert sorted(indices) == [0, 1, 2]
    assert calls == [1]
    assert barrier.parties == 3
    assert barrier.n_waiting == 0
    assert not barrier.broken
    assert "waiters=0/3" in repr(barrier)


def test_barrier_abort_reset_timeout() -> None:
    barrier = tt.Barrier(2)
    errors: list[BaseException] = []

    def party() -> None:
        try:
            barrier.wait()
        except tt.BrokenBarrierError as exc:
            errors.append(exc)

    (t,) = _run(party)
    while barrier.n_waiting != 1:
        tt.Event().wait(0.001)
    barrier.abort()
    t.join()
    assert len(errors) == 1
    assert barrier.broken
    assert "broken" in repr(barrier)
    with pytest.raises(tt.BrokenBarrierError):
        barrier.wait()
    barrier.reset()
    assert "waiters=0/2" in repr(barrier)
    with pytest.raises(tt.BrokenBarrierError):
        barrier.wait(0)  # alone, times out and breaks the barrier
    assert barrier.broken


def test_barrier_bad_input() -> None:
    with pytest.raises(ValueError, match="parties"):
        tt.Barrier(0)
    with pytest.raises(TypeError, match="parties"):
        tt.Barrier("2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="action"):
        tt.Barrier(2, action=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        tt.Barrier(2).wait(float("nan"))
