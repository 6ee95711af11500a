"""The lock types: the interpreter's, with the 3.14 surface."""

from __future__ import annotations

import pickle
import threading

import pytest

from treadle import thread_core

WAIT = 30.0


def test_lock_type_names() -> None:
    lk = thread_core.allocate_lock()
    assert isinstance(lk, thread_core.LockType)
    assert isinstance(lk, thread_core.lock)
    assert isinstance(thread_core.lock(), thread_core.LockType)
    assert thread_core.allocate is thread_core.allocate_lock
    assert not isinstance(object(), thread_core.lock)


def test_lock_acquire_release_and_context() -> None:
    lk = thread_core.lock()
    assert not lk.locked()
    with lk:
        assert lk.locked()
        assert not lk.acquire(False)
        assert not lk.acquire(True, 0.001)
    assert not lk.locked()
    with pytest.raises(RuntimeError):
        lk.release()


@pytest.mark.parametrize("make", [thread_core.allocate_lock, thread_core.RLock])
def test_bad_timeouts(make: type) -> None:
    lk = make()
    with pytest.raises(ValueError, match="timeout value must be"):
        lk.acquire(True, -2)
    with pytest.raises(ValueError, match="NaN"):
        lk.acquire(True, float("nan"))
    with pytest.raises(ValueError, match="non-blocking"):
        lk.acquire(False, 1)
    assert not lk.locked()


def test_rlock_locked_seen_from_owner_and_others() -> None:
    rl = thread_core.RLock()
    assert not rl.locked()
    rl.acquire()
    rl.acquire()
    assert rl.locked()
    seen: list[bool] = []
    t = threading.Thread(target=lambda: seen.append(rl.locked()))
    t.start()
    t.join(WAIT)
    assert seen == [True]
    rl.release()
    assert rl.locked()
    rl.release()
    assert not rl.locked()
    t2 = threading.Thread(target=lambda: seen.append(rl.locked()))
    t2.start()
    t2.join(WAIT)
    assert seen == [True, False]


def test_rlock_release_unowned() -> None:
    with pytest.raises(RuntimeError):
        thread_core.RLock().release()


def test_rlock_cannot_be_pickled() -> None:
    with pytest.raises(TypeError):
        pickle.dumps(thread_core.RLock())


@pytest.mark.parametrize("make", [thread_core.allocate_lock, thread_core.RLock])
def test_treadle_lock_in_stdlib_condition(make: type) -> None:
    cond = threading.Condition(make())
    ready = threading.Event()
    got: list[int] = []

    def waiter() -> None:
        with cond:
            ready.set()
            assert cond.wait_for(lambda: got, WAIT)

    t = threading.Thread(target=waiter)
    t.start()
    assert ready.wait(WAIT)
    with cond:
        got.append(1)
        cond.notify_all()
    t.join(WAIT)
    assert not t.is_alive()
