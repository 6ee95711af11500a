"""treadle.thread_core.support: the timeout rule and the waiter list every package uses."""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest

from treadle.thread_core import allocate_lock, support
from treadle.thread_core.support import (
    WaiterList,
    check_timeout,
    pass_gate,
    take_lock,
    wait_gate,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [(None, None), (0, 0.0), (1, 1.0), (2.5, 2.5), (-1, -1.0), (Fraction(1, 4), 0.25), (True, 1.0)],
)
def test_check_timeout_accepts_real_numbers(given: object, expected: float | None) -> None:
    assert check_timeout(given) == expected


@pytest.mark.parametrize("bad", ["1", b"1", 1j, [], object()])
def test_check_timeout_refuses_other_types_naming_the_argument(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^'submit_timeout' must be a real number or None, not "):
        check_timeout(bad, "submit_timeout")


def test_check_timeout_refuses_nan_and_optionally_negatives() -> None:
    with pytest.raises(ValueError, match=r"^'timeout' must not be NaN$"):
        check_timeout(float("nan"))
    with pytest.raises(ValueError, match=r"^'delay' must be a non-negative number$"):
        check_timeout(-0.5, "delay", negative=False)
    assert check_timeout(0, negative=False) == 0.0


def test_wait_gate_does_not_block_for_zero_or_less() -> None:
    gate = allocate_lock()
    gate.acquire()
    assert wait_gate(gate, 0) is False
    assert wait_gate(gate, -5.0) is False
    assert wait_gate(gate, 0.001) is False
    gate.release()
    assert wait_gate(gate, None) is True
    assert gate.locked()


def test_pass_gate_leaves_an_open_gate_open() -> None:
    gate = allocate_lock()
    assert pass_gate(gate, 0) is True
    assert not gate.locked()
    gate.acquire()
    assert pass_gate(gate, 0) is False


def _parker(
    waiters: WaiterList, lock: threading.Lock, results: list[bool], ready: threading.Event
) -> None:
    with lock:
        ready.set()
        results.append(waiters.park(None, lock.release, lambda _: lock.acquire()))


@pytest.mark.timeout(30)
def test_waiter_list_wakes_in_arrival_order() -> None:
    waiters = WaiterList()
    lock = threading.Lock()
    results: list[bool] = []
    threads = []
    for _ in range(3):
        ready = threading.Event()
        t = threading.Thread(target=_parker, args=(waiters, lock, results, ready))
        t.start()
        ready.wait()
        threads.append(t)
    # Each parker dropped the lock inside park(): taking it here means all three wait.
    with lock:
        assert len(waiters) == 3
        assert waiters.wake(2) == 2
        assert len(waiters) == 1
    with lock:
        assert waiters.wake_all() == 1
        assert waiters.wake(5) == 0
    for t in threads:
        t.join()
    assert results == [True, True, True]


def test_pop_takes_the_longest_parked_without_opening_its_gate() -> None:
    waiters = WaiterList()
    assert waiters.pop() is None
    first, second = allocate_lock(), allocate_lock()
    first.acquire()
    second.acquire()
    waiters.gates.extend([first, second])  # two parked threads, stood in for by gates
    assert waiters.pop() is first
    assert first.locked()  # still closed: the caller opens it after dropping its lock
    assert len(waiters) == 1


def test_a_popped_thread_whose_time_runs_out_counts_as_woken() -> None:
    waiters = WaiterList()
    lock = threading.Lock()
    popped: list[object] = []

    def release() -> None:
        lock.release()

    def restore(_: None) -> None:
        lock.acquire()
        popped.append(waiters.pop())  # a waker took this thread off just as time ran out

    lock.acquire()
    assert waiters.park(0, release, restore) is True
    assert len(popped) == 1
    assert popped[0] is not None
    lock.release()


def test_waiter_list_park_times_out_and_restores_the_lock() -> None:
    waiters = WaiterList()
    lock = threading.Lock()
    restored: list[str] = []
    lock.acquire()

    def restore(token: str) -> None:
        lock.acquire()
        restored.append(token)

    def release() -> str:
        lock.release()
        return "token"

    assert waiters.park(0.01, release, restore) is False
    assert restored == ["token"]
    assert lock.locked()
    assert len(waiters) == 0
    lock.release()


def test_an_interrupted_park_hands_its_wake_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    waiters = WaiterList()
    lock = threading.Lock()
    other = allocate_lock()
    other.acquire()
    waiters.gates.append(other)  # another parked thread, stood in for by its gate

    def woken_then_interrupted(gate: object, timeout: float | None) -> bool:
        waiters.gates.remove(gate)  # type: ignore[arg-type]  # a waker chose this thread
        raise KeyboardInterrupt  # ... and Ctrl-C arrived before it could return

    monkeypatch.setattr(support, "wait_gate", woken_then_interrupted)
    lock.acquire()
    with pytest.raises(KeyboardInterrupt):
        waiters.park(30.0, lock.release, lambda _: lock.acquire())
    assert lock.locked()  # the owner's lock is held again, as after any park
    assert not other.locked()  # the lost wake-up went to the other parked thread
    assert len(waiters) == 0
    lock.release()


def test_park_lock_is_woken_and_takes_the_plain_lock_back() -> None:
    waiters = WaiterList()
    lock = allocate_lock()
    parked = threading.Event()
    results: list[bool] = []

    def parker() -> None:
        lock.acquire()
        parked.set()
        results.append(waiters.park_lock(lock, None))
        results.append(lock.locked())
        lock.release()

    t = threading.Thread(target=parker)
    t.start()
    parked.wait()
    with lock:  # taken once the parker dropped it inside park_lock
        assert len(waiters) == 1
        waiters.wake(1)
    t.join()
    assert results == [True, True]
    assert not lock.locked()


def test_park_lock_times_out_with_the_lock_held() -> None:
    waiters = WaiterList()
    lock = allocate_lock()
    lock.acquire()
    assert waiters.park_lock(lock, 0.01) is False
    assert lock.locked()
    assert len(waiters) == 0
    lock.release()


def test_an_interrupted_park_lock_hands_its_wake_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    waiters = WaiterList()
    lock = allocate_lock()
    other = allocate_lock()
    other.acquire()
    waiters.gates.append(other)

    def woken_then_interrupted(gate: object, timeout: float | None) -> bool:
        waiters.gates.remove(gate)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(support, "wait_gate", woken_then_interrupted)
    lock.acquire()
    with pytest.raises(KeyboardInterrupt):
        waiters.park_lock(lock, 30.0)
    assert lock.locked()
    assert not other.locked()
    assert len(waiters) == 0
    lock.release()


def test_take_lock_waits_for_a_holder_that_lets_go() -> None:
    lock = allocate_lock()
    lock.acquire()
    trying = threading.Event()

    def holder() -> None:
        trying.wait()
        lock.release()

    t = threading.Thread(target=holder)
    t.start()
    trying.set()
    take_lock(lock)  # yields the GIL, then blocks, until the holder releases
    assert lock.locked()
    lock.release()
    t.join()


def test_publish_sets_the_public_module_of_own_names_only() -> None:
    def own() -> None:
        pass

    class Own:
        pass

    own.__module__ = Own.__module__ = "treadle.example._private"
    namespace: dict[str, object] = {
        "__name__": "treadle.example",
        "__all__": ["own", "Own", "dumps", "lock"],
        "own": own,
        "Own": Own,
        "dumps": __import__("json").dumps,
        "lock": threading.Lock,
    }
    support.publish(namespace)
    assert own.__module__ == Own.__module__ == "treadle.example"
    assert getattr(namespace["dumps"], "__module__", None) == "json"
