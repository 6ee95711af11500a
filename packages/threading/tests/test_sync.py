"""The synchronisation primitives, on the stdlib's threading and on treadle's (``impl``)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from treadle import threading as tt

NAN = float("nan")


def _run(impl: ModuleType, fn: Callable[[], object], n: int = 1) -> list[Any]:
    threads = [impl.Thread(target=fn) for _ in range(n)]
    for t in threads:
        t.start()
    return threads


def _join(threads: list[Any]) -> None:
    for t in threads:
        t.join()


# ---------------------------------------------------------------------------- locks


def test_lock(impl: ModuleType) -> None:
    lock = impl.Lock()
    assert lock.acquire()
    assert lock.locked()
    assert not lock.acquire(False)
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.stdlib_since((3, 13), "Lock is a class from 3.13 (a function before)")
def test_lock_is_a_class(impl: ModuleType) -> None:
    assert isinstance(impl.Lock(), impl.Lock)
    assert not isinstance(impl.RLock(), impl.Lock)


@pytest.mark.stdlib_since((3, 14), "RLock.locked() is new in 3.14")
def test_rlock_reentrant_and_locked(impl: ModuleType) -> None:
    lock = impl.RLock()
    with lock, lock:
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.stdlib_since((3, 13), "passing arguments to RLock is deprecated from 3.13")
def test_rlock_arguments_deprecated(impl: ModuleType) -> None:
    with pytest.warns(DeprecationWarning, match="RLock"):
        impl.RLock(1)


def test_py_rlock(impl: ModuleType) -> None:
    lock = impl._PyRLock()
    with lock, lock:
        assert lock._is_owned()
        assert "count=2" in repr(lock)
    assert "unlocked" in repr(lock)
    assert "_RLock object owner=None count=0 at" in repr(lock)
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.stdlib_since((3, 11), "_recursion_count() is new in 3.11")
def test_py_rlock_recursion_count(impl: ModuleType) -> None:
    lock = impl._PyRLock()
    with lock, lock:
        assert lock._recursion_count() == 2
    assert lock._recursion_count() == 0


@pytest.mark.stdlib_since((3, 14), "RLock.locked() is new in 3.14")
def test_py_rlock_other_thread_waits(impl: ModuleType) -> None:
    lock = impl._PyRLock()
    lock.acquire()
    got: list[object] = []

    def other() -> None:
        got.append(lock.acquire(False))
        got.append(lock.acquire(timeout=0.01))
        try:
            lock.release()
        except RuntimeError:
            got.append("refused")

    (t,) = _run(impl, other)
    t.join()
    assert got == [False, False, "refused"]
    lock.release()
    assert not lock.locked()


@pytest.mark.stdlib_since((3, 14), "RLock.locked() is new in 3.14")
def test_py_rlock_release_save_restore(impl: ModuleType) -> None:
    lock = impl._PyRLock()
    with pytest.raises(RuntimeError):
        lock._release_save()
    lock.acquire()
    lock.acquire()
    saved = lock._release_save()
    assert not lock.locked()
    lock._acquire_restore(saved)
    assert lock._is_owned()
    lock.release()
    lock.release()
    assert not lock.locked()


# ------------------------------------------------------------------------ Condition


def test_condition_wait_notify(impl: ModuleType) -> None:
    cond = impl.Condition()
    ready: list[int] = []
    woke = impl.Event()

    def waiter() -> None:
        with cond:
            ready.append(1)
            cond.notify()
            cond.wait_for(lambda: len(ready) == 2)
        woke.set()

    (t,) = _run(impl, waiter)
    with cond:
        cond.wait_for(lambda: ready)
        ready.append(2)
        cond.notify_all()
    assert woke.wait(30)
    t.join()


@pytest.mark.parametrize("lock", ["Lock", "RLock", "_PyRLock"])
def test_condition_wakes_in_arrival_order(impl: ModuleType, lock: str) -> None:
    cond = impl.Condition(getattr(impl, lock)())
    order: list[int] = []
    waiting, woken = impl.Semaphore(0), impl.Semaphore(0)

    def waiter(i: int) -> Callable[[], None]:
        def run() -> None:
            with cond:
                waiting.release()
                cond.wait()
                order.append(i)
            woken.release()

        return run

    threads = []
    for i in range(3):  # one at a time, so that they queue in this order
        threads += _run(impl, waiter(i))
        waiting.acquire()
        with cond:  # taken once the waiter has let go of it: it is parked
            pass
    with cond:
        cond.notify(2)
    woken.acquire()
    woken.acquire()
    assert sorted(order) == [0, 1]
    with cond:
        cond.notify()
    _join(threads)
    assert order[2] == 2


def test_condition_requires_lock(impl: ModuleType) -> None:
    cond = impl.Condition()
    with pytest.raises(RuntimeError):
        cond.wait()
    with pytest.raises(RuntimeError):
        cond.notify()
    with pytest.raises(RuntimeError):
        cond.notify_all()
    with cond:
        assert cond.wait(0) is False
        assert cond.wait(-1) is False  # a negative timeout waits for nothing
        assert cond.wait_for(lambda: 0, 0) == 0
        assert cond.wait_for(lambda: "yes", 0) == "yes"


@pytest.mark.stdlib_since((3, 14), "Condition.locked() is new in 3.14")
def test_condition_locked(impl: ModuleType) -> None:
    cond = impl.Condition()
    assert not cond.locked()
    with cond:
        assert cond.locked()


def test_condition_timeout_checked() -> None:
    cond = tt.Condition()
    with cond:
        with pytest.raises(ValueError, match="NaN"):
            cond.wait(NAN)
        with pytest.raises(TypeError, match="'timeout'"):
            cond.wait("1")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="'timeout'"):
            cond.wait_for(lambda: False, "1")  # type: ignore[arg-type]
        assert cond._is_owned()
    assert not cond.locked()


def test_condition_wait_for_times_out(impl: ModuleType) -> None:
    cond = impl.Condition(impl.Lock())
    with cond:
        assert cond.wait_for(lambda: [], 0.01) == []


def test_condition_notifyall_deprecated(impl: ModuleType) -> None:
    cond = impl.Condition()
    with cond, pytest.warns(DeprecationWarning, match="notify_all"):
        cond.notifyAll()


def test_condition_repr_counts_waiters(impl: ModuleType) -> None:
    cond = impl.Condition(impl.Lock())
    assert repr(cond).endswith(", 0)>")


def test_condition_with_the_other_modules_lock() -> None:
    import threading as std

    for cond in (tt.Condition(std.RLock()), std.Condition(tt.RLock())):
        with cond:
            assert cond.wait(0) is False
            cond.notify()


# ------------------------------------------------------------------------ Semaphore


def test_semaphore_counts(impl: ModuleType) -> None:
    sem = impl.Semaphore(2)
    assert sem.acquire()
    assert sem.acquire(blocking=False)
    assert not sem.acquire(blocking=False)
    assert not sem.acquire(timeout=0)
    sem.release(2)
    with sem:
        assert sem._value == 1


def test_semaphore_bad_input(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="initial value"):
        impl.Semaphore(-1)
    sem = impl.Semaphore(0)
    with pytest.raises(ValueError, match="non-blocking"):
        sem.acquire(False, timeout=1)
    with pytest.raises(ValueError, match="one or more"):
        sem.release(0)


def test_semaphore_bad_input_named() -> None:
    with pytest.raises(TypeError, match="value"):
        tt.Semaphore("3")  # type: ignore[arg-type]
    sem = tt.Semaphore(0)
    with pytest.raises(ValueError, match="NaN"):
        sem.acquire(timeout=NAN)
    with pytest.raises(TypeError, match="'timeout'"):
        sem.acquire(timeout="1")  # type: ignore[arg-type]


def test_semaphore_blocks_until_release(impl: ModuleType) -> None:
    sem = impl.Semaphore(0)
    got: list[int] = []

    def taker() -> None:
        for _ in range(100):
            sem.acquire()
            got.append(1)

    threads = _run(impl, taker, 4)
    for _ in range(400):
        sem.release()
    _join(threads)
    assert len(got) == 400
    assert sem._value == 0


def test_semaphore_times_out(impl: ModuleType) -> None:
    sem = impl.Semaphore(0)
    assert sem.acquire(timeout=0.01) is False
    assert sem.acquire(timeout=-1) is False


def test_semaphore_large_value() -> None:
    sem = tt.Semaphore(10**7)
    assert sem._value == 10**7
    for _ in range(5000):
        sem.acquire()
    assert sem._value == 10**7 - 5000
    sem.release(5000)
    assert sem._value == 10**7


def test_bounded_semaphore(impl: ModuleType) -> None:
    sem = impl.BoundedSemaphore(2)
    with pytest.raises(ValueError, match="too many"):
        sem.release()
    sem.acquire()
    sem.release()
    big = impl.BoundedSemaphore(10**6)
    big.acquire()
    big.release()
    with pytest.raises(ValueError, match="too many"):
        big.release()


def test_bounded_semaphore_contended(impl: ModuleType) -> None:
    sem = impl.BoundedSemaphore(3)

    def worker() -> None:
        for _ in range(500):
            with sem:
                pass

    _join(_run(impl, worker, 4))
    assert sem._value == 3


# ---------------------------------------------------------------------------- Event


def test_event(impl: ModuleType) -> None:
    evt = impl.Event()
    assert not evt.is_set()
    assert evt.wait(0) is False
    assert evt.wait(-1) is False
    (t,) = _run(impl, evt.set)
    assert evt.wait(30)
    t.join()
    assert evt.is_set()
    evt.clear()
    assert not evt.is_set()
    with pytest.warns(DeprecationWarning, match="is_set"):
        evt.isSet()


def test_event_timeout_checked() -> None:
    evt = tt.Event()
    with pytest.raises(ValueError, match="NaN"):
        evt.wait(NAN)
    with pytest.raises(TypeError, match="'timeout'"):
        evt.wait([])  # type: ignore[arg-type]


def test_event_wakes_every_waiter(impl: ModuleType) -> None:
    evt = impl.Event()
    entered = impl.Semaphore(0)
    woke: list[bool] = []

    def waiter() -> None:
        entered.release()
        woke.append(evt.wait())

    threads = _run(impl, waiter, 5)
    for _ in range(5):
        entered.acquire()
    evt.set()
    _join(threads)
    assert woke == [True] * 5


# -------------------------------------------------------------------------- Barrier


def test_barrier_passes_and_runs_action(impl: ModuleType) -> None:
    calls: list[int] = []
    barrier = impl.Barrier(3, action=lambda: calls.append(1))
    indices: list[int] = []

    def party() -> None:
        indices.append(barrier.wait())

    _join(_run(impl, party, 3))
    assert sorted(indices) == [0, 1, 2]
    assert calls == [1]
    assert barrier.parties == 3
    assert barrier.n_waiting == 0
    assert not barrier.broken


def test_barrier_abort_reset_timeout(impl: ModuleType) -> None:
    barrier = impl.Barrier(2)
    errors: list[BaseException] = []
    waiting = impl.Event()

    def party() -> None:
        waiting.set()
        try:
            barrier.wait()
        except impl.BrokenBarrierError as exc:
            errors.append(exc)

    (t,) = _run(impl, party)
    waiting.wait()
    while barrier.n_waiting != 1:
        impl.Event().wait(0.001)
    barrier.abort()
    t.join()
    assert len(errors) == 1
    assert barrier.broken
    with pytest.raises(impl.BrokenBarrierError):
        barrier.wait()
    barrier.reset()
    with pytest.raises(impl.BrokenBarrierError):
        barrier.wait(0)  # alone, times out and breaks the barrier
    assert barrier.broken


@pytest.mark.stdlib_since((3, 13), "Barrier(0) is refused from 3.13")
def test_barrier_bad_input(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="parties"):
        impl.Barrier(0)


def test_barrier_bad_input_named() -> None:
    with pytest.raises(TypeError, match="parties"):
        tt.Barrier("2")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="action"):
        tt.Barrier(2, action=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        tt.Barrier(2).wait(NAN)
    with pytest.raises(TypeError, match="'timeout'"):
        tt.Barrier(2, timeout="1")  # type: ignore[arg-type]


@pytest.mark.stdlib_since((3, 11), "the primitives' informative reprs are new in 3.11")
def test_reprs(impl: ModuleType) -> None:
    sem, bounded = impl.Semaphore(2), impl.BoundedSemaphore(2)
    bounded.acquire()
    evt, barrier = impl.Event(), impl.Barrier(3)
    assert repr(sem).endswith(": value=2>")
    assert repr(bounded).endswith(": value=1/2>")
    assert repr(evt).endswith(": unset>")
    evt.set()
    assert repr(evt).endswith(": set>")
    assert repr(barrier).endswith(": waiters=0/3>")
    barrier.abort()
    assert repr(barrier).endswith(": broken>")
    for obj in (sem, bounded, evt, barrier):
        assert repr(obj).startswith(f"<{impl.__name__}.{type(obj).__name__} at 0x")
