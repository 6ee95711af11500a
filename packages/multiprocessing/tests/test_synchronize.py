"""treadle.multiprocessing.synchronize: locks, semaphores, conditions, events, barriers."""

from __future__ import annotations

import functools
import gc
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import _sync_targets as targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from pytest_treadle import check_public_surface
from treadle import multiprocessing
from treadle.multiprocessing import _synchronize, synchronize

pytestmark = pytest.mark.timeout(60)

# The single-process tests use one context with named semaphores (and the tracker).
SPAWN = multiprocessing.get_context("spawn")
FORK = multiprocessing.get_context("fork")


def _sem_path(name: str) -> Path:
    # Linux keeps named semaphores as files of /dev/shm called sem.<name without />.
    return Path("/dev/shm") / ("sem." + name.lstrip("/"))


def _in_thread(target: Any, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args)
    thread.start()
    return thread


def _until(condition: Any) -> None:
    """Poll *condition* (a barrier's waiter count, which no event reports) until true."""
    pause = threading.Event()
    while not condition():
        pause.wait(0.001)


def test_surface() -> None:
    assert check_public_surface(synchronize, "multiprocessing.synchronize") == []
    for name in ("SemLock", "Barrier"):
        assert getattr(synchronize, name).__module__ == "treadle.multiprocessing.synchronize"
    assert issubclass(synchronize.Lock, synchronize.SemLock)
    assert issubclass(synchronize.BoundedSemaphore, synchronize.Semaphore)


def test_context_methods_make_these_classes() -> None:
    made = {
        synchronize.Lock: SPAWN.Lock(),
        synchronize.RLock: SPAWN.RLock(),
        synchronize.Semaphore: SPAWN.Semaphore(2),
        synchronize.BoundedSemaphore: SPAWN.BoundedSemaphore(2),
        synchronize.Condition: SPAWN.Condition(),
        synchronize.Event: SPAWN.Event(),
        synchronize.Barrier: SPAWN.Barrier(2),
    }
    for cls, obj in made.items():
        assert type(obj) is cls
    # The constructors take the context as a keyword (the stdlib's call shape).
    assert synchronize.Lock(ctx=SPAWN).acquire()


class TestLock:
    def test_acquire_release_locked(self) -> None:
        lock = SPAWN.Lock()
        assert not lock.locked()
        assert lock.acquire()
        assert lock.locked()
        assert not lock.acquire(False)
        assert not lock.acquire(timeout=0.01)
        assert not lock.acquire(True, 0)
        lock.release()
        assert not lock.locked()
        with lock as entered:
            assert entered is True
            assert lock.locked()
        assert not lock.locked()

    def test_release_unlocked_raises(self) -> None:
        lock = SPAWN.Lock()
        with pytest.raises(ValueError, match="released too many times"):
            lock.release()

    def test_another_thread_may_release(self) -> None:
        lock = SPAWN.Lock()
        lock.acquire()
        _in_thread(lock.release).join()
        assert not lock.locked()

    def test_repr(self) -> None:
        lock = SPAWN.Lock()
        assert repr(lock) == "<Lock(owner=None)>"
        with lock:
            assert repr(lock) == "<Lock(owner=MainProcess)>"
        seen: list[str] = []

        def in_thread() -> None:
            with lock:
                seen.append(repr(lock))

        thread = threading.Thread(target=in_thread, name="Worker")
        thread.start()
        thread.join()
        assert seen == ["<Lock(owner=MainProcess|Worker)>"]
        held, done = threading.Event(), threading.Event()

        def hold() -> None:
            with lock:
                held.set()
                done.wait()

        thread = _in_thread(hold)
        held.wait()
        assert repr(lock) == "<Lock(owner=SomeOtherThread)>"
        done.set()
        thread.join()


class TestRLock:
    def test_recursion_and_ownership(self) -> None:
        rlock = SPAWN.RLock()
        assert rlock.acquire()
        assert rlock.acquire(timeout=0)
        assert rlock.locked()
        assert repr(rlock) == "<RLock(MainProcess, 2)>"
        results: list[object] = []

        def other() -> None:
            results.append(rlock.acquire(timeout=0))
            try:
                rlock.release()
            except AssertionError as exc:
                results.append(str(exc))
            results.append(repr(rlock))

        _in_thread(other).join()
        assert results == [
            False,
            "attempt to release recursive lock not owned by thread",
            "<RLock(SomeOtherThread, nonzero)>",
        ]
        rlock.release()
        rlock.release()
        assert not rlock.locked()
        assert repr(rlock) == "<RLock(None, 0)>"
        with pytest.raises(AssertionError, match="not owned"):
            rlock.release()


class TestSemaphore:
    def test_counting(self) -> None:
        sem = SPAWN.Semaphore(2)
        assert sem.get_value() == 2
        assert sem.acquire()
        assert sem.acquire(False)
        assert sem.locked()
        assert not sem.acquire(timeout=0.01)
        assert repr(sem) == "<Semaphore(value=0)>"
        sem.release()
        sem.release()
        sem.release()  # unbounded: above the initial value is fine
        assert sem.get_value() == 3
        assert not sem.locked()
        with sem:
            assert sem.get_value() == 2
        assert SPAWN.Semaphore().get_value() == 1
        assert SPAWN.Semaphore(0).locked()
        # What the C semaphore takes: anything with __index__, a bool included.
        assert SPAWN.Semaphore(True).get_value() == 1
        assert SPAWN.BoundedSemaphore(True).get_value() == 1

    def test_bounded(self) -> None:
        sem = SPAWN.BoundedSemaphore(2)
        assert repr(sem) == "<BoundedSemaphore(value=2, maxvalue=2)>"
        with pytest.raises(ValueError, match="released too many times"):
            sem.release()
        sem.acquire()
        assert repr(sem) == "<BoundedSemaphore(value=1, maxvalue=2)>"
        sem.release()
        assert sem.get_value() == 2

    @pytest.mark.parametrize("cls", ["Semaphore", "BoundedSemaphore"])
    def test_bad_values(self, cls: str) -> None:
        make = getattr(SPAWN, cls)
        with pytest.raises(ValueError, match="value must be >= 0"):
            make(-1)
        with pytest.raises(TypeError, match="value must be an integer"):
            make("1")
        with pytest.raises(TypeError, match="value must be an integer"):
            make(1.0)
        with pytest.raises(ValueError, match="value must be <= SEM_VALUE_MAX"):
            make(_synchronize.SEM_VALUE_MAX + 1)


class TestCondition:
    def test_needs_the_lock(self) -> None:
        cond = SPAWN.Condition()
        with pytest.raises(AssertionError, match="must acquire"):
            cond.wait(0)
        with pytest.raises(AssertionError, match="not owned"):
            cond.notify()
        with pytest.raises(AssertionError, match="not owned"):
            cond.notify_all()

    def test_wait_times_out_and_keeps_recursion(self) -> None:
        cond = SPAWN.Condition()
        with cond:
            assert cond.acquire()  # held twice
            assert cond.wait(0.01) is False
            assert repr(cond._lock) == "<RLock(MainProcess, 2)>"
            cond.release()
            assert cond.wait_for(lambda: 0, 0.01) == 0
            assert cond.wait_for(lambda: "ok", 0.01) == "ok"
            # A timed-out waiter is forgotten: this notify wakes no one and returns.
            cond.notify()
        assert repr(cond) == "<Condition(<RLock(None, 0)>, 0)>"

    def test_notify_and_notify_all(self) -> None:
        cond = SPAWN.Condition(SPAWN.Lock())
        waiting = SPAWN.Semaphore(0)
        state = {"go": 0}
        woke: list[int] = []

        def waiter(number: int) -> None:
            with cond:
                waiting.release()
                cond.wait_for(lambda: state["go"] >= number)
                woke.append(number)

        threads = [_in_thread(waiter, number) for number in (1, 2, 3)]
        for _ in threads:
            waiting.acquire()
        with cond:
            assert repr(cond).endswith(", 3)>")
            state["go"] = 1
            cond.notify(3)
        threads[0].join()
        with cond:
            state["go"] = 3
            cond.notify_all()
        for thread in threads:
            thread.join()
        assert sorted(woke) == [1, 2, 3]
        assert woke[0] == 1


class TestEvent:
    def test_set_clear_wait(self) -> None:
        event = SPAWN.Event()
        assert not event.is_set()
        assert event.wait(0.01) is False
        assert repr(event) == f"<Event at {id(event):#x} unset>"
        event.set()
        event.set()
        assert event.is_set()
        assert event.wait()
        assert event.wait(0)
        assert repr(event) == f"<Event at {id(event):#x} set>"
        event.clear()
        event.clear()
        assert not event.is_set()

    def test_set_wakes_a_waiting_thread(self) -> None:
        event = SPAWN.Event()
        results: list[bool] = []
        thread = _in_thread(lambda: results.append(event.wait(30)))
        event.set()
        thread.join()
        assert results == [True]


class TestBarrier:
    def test_threads_pass_in_rounds(self) -> None:
        rounds = SPAWN.Semaphore(0)
        barrier = SPAWN.Barrier(3, action=rounds.release, timeout=30)
        assert barrier.parties == 3
        assert barrier.n_waiting == 0
        assert not barrier.broken
        indices: list[int] = []
        threads = [
            _in_thread(lambda: indices.extend(barrier.wait() for _ in range(2))) for _ in range(2)
        ]
        indices.extend(barrier.wait() for _ in range(2))
        for thread in threads:
            thread.join()
        assert sorted(indices) == [0, 0, 1, 1, 2, 2]
        assert rounds.get_value() == 2
        assert repr(barrier) == (
            f"<treadle.multiprocessing.synchronize.Barrier at {id(barrier):#x}: waiters=0/3>"
        )

    def test_abort_timeout_reset(self) -> None:
        barrier = SPAWN.Barrier(2)
        # Names, not the exceptions: a traceback would tie the barrier into a cycle.
        errors: list[str] = []

        def waiter() -> None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError as exc:
                errors.append(type(exc).__name__)

        # Whether the thread waits already or comes later, it finds the barrier broken.
        thread = _in_thread(waiter)
        barrier.abort()
        thread.join()
        assert errors == ["BrokenBarrierError"]
        assert barrier.broken
        assert repr(barrier).endswith(": broken>")
        with pytest.raises(threading.BrokenBarrierError):
            barrier.wait()
        barrier.reset()
        assert not barrier.broken
        # Alone at a 2-party barrier: the timeout breaks it.
        with pytest.raises(threading.BrokenBarrierError):
            barrier.wait(0.01)
        assert barrier.broken
        barrier.reset()
        # reset() while a party waits: that party gets BrokenBarrierError, the barrier
        # is usable again afterwards.
        errors.clear()
        thread = _in_thread(waiter)
        _until(lambda: barrier.n_waiting == 1)
        assert repr(barrier).endswith(": waiters=1/2>")
        barrier.reset()
        thread.join()
        assert errors == ["BrokenBarrierError"]
        assert not barrier.broken
        other = _in_thread(barrier.wait, 30)
        assert barrier.wait(30) in (0, 1)
        other.join()

    def test_failing_action_breaks_it(self) -> None:
        def explode() -> None:
            raise KeyError("action")

        barrier = SPAWN.Barrier(1, action=explode)
        with pytest.raises(KeyError):
            barrier.wait()
        assert barrier.broken

    def test_bad_arguments(self) -> None:
        with pytest.raises(ValueError, match="parties must be >= 1"):
            SPAWN.Barrier(0)
        with pytest.raises(TypeError, match="parties must be an integer"):
            SPAWN.Barrier("2")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="action must be callable"):
            SPAWN.Barrier(2, action=3)


def test_pickling_only_while_spawning() -> None:
    for obj in (SPAWN.Lock(), SPAWN.Condition(), SPAWN.Event(), SPAWN.Barrier(2)):
        with pytest.raises(RuntimeError, match="only be shared between processes"):
            pickle.dumps(obj)


def test_named_semaphore_is_removed_with_its_object() -> None:
    lock = SPAWN.Lock()
    name = lock._semlock.name
    assert name.startswith("/mp-")
    assert _sem_path(name).exists()
    del lock
    gc.collect()
    assert not _sem_path(name).exists()
    # A fork context's semaphore never has a name: nothing can be left behind.
    assert FORK.Lock()._semlock.name is None


def test_with_children(ctx: Any) -> None:
    """A child of each start method sees the parent's locks, condition, event, barrier."""
    reader, writer = ctx.Pipe(duplex=False)
    objs = {
        "lock": ctx.Lock(),
        "rlock": ctx.RLock(),
        "bounded": ctx.BoundedSemaphore(1),
        "sem": ctx.Semaphore(0),
        "cond": ctx.Condition(),
        "turn": ctx.Semaphore(0),
        "event": ctx.Event(),
        "barrier": ctx.Barrier(2),
    }
    objs["lock"].acquire()
    objs["rlock"].acquire()
    objs["rlock"].acquire()
    child = ctx.Process(target=targets.exercise, args=(writer, objs))
    child.start()
    writer.close()
    try:
        assert objs["sem"].acquire(timeout=30)
        objs["lock"].release()
        objs["rlock"].release()
        objs["rlock"].release()
        cond, turn = objs["cond"], objs["turn"]
        with cond:
            turn.release()
            cond.notify()
            assert cond.wait_for(lambda: turn.get_value() == 2, 30)
        objs["event"].set()
        mine = objs["barrier"].wait(30)
        assert reader.poll(30)
        seen = reader.recv()
    finally:
        child.join(30)
        reader.close()
    assert child.exitcode == 0
    assert seen == {
        "lock_free": False,
        "lock_locked": True,
        "lock_repr": "<Lock(owner=SomeOtherProcess)>",
        "rlock_free": False,
        "rlock_repr": "<RLock(SomeOtherProcess, nonzero)>",
        "rlock_release": "attempt to release recursive lock not owned by thread",
        "bounded_release": "semaphore or lock released too many times",
        "lock_later": True,
        "lock_repr_mine": f"<Lock(owner={child.name})>",
        "cond_waited": True,
        "event": True,
        "barrier": 1 - mine,
    }


def test_barrier_across_three_processes() -> None:
    ctx = multiprocessing.get_context("forkserver")
    rounds = ctx.Semaphore(0)
    # The action takes its semaphore as an argument: a partial pickles with the barrier.
    barrier = ctx.Barrier(3, action=functools.partial(targets.count_round, rounds), timeout=30)
    pipes = [ctx.Pipe(duplex=False) for _ in range(2)]
    children = [
        ctx.Process(target=targets.barrier_party, args=(writer, barrier, 2)) for _, writer in pipes
    ]
    for child in children:
        child.start()
    for _, writer in pipes:
        writer.close()
    try:
        mine = [barrier.wait() for _ in range(2)]
        theirs = [reader.recv() for reader, _ in pipes]
        for round_number in range(2):
            got = sorted([mine[round_number]] + [t[round_number] for t in theirs])
            assert got == [0, 1, 2]
        assert rounds.get_value() == 2
        # Both children wait again (aborting earlier could break the round they leave).
        _until(lambda: barrier.n_waiting == 2)
        barrier.abort()
        assert [reader.recv() for reader, _ in pipes] == ["broken", "broken"]
    finally:
        for child in children:
            child.join(30)
        for reader, _ in pipes:
            reader.close()
    assert [child.exitcode for child in children] == [0, 0]


def test_received_semaphore_goes_on_to_a_grandchild() -> None:
    # What a child received may be sent again from there (gh-108520).
    ctx = multiprocessing.get_context("forkserver")
    sem = ctx.Semaphore(0)
    child = ctx.Process(target=targets.pass_on, args=(sem, "forkserver"))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    assert sem.get_value() == 1


def test_lock_held_by_a_killed_child_stays_held() -> None:
    """A SIGKILLed holder cannot give its lock back: the others' timed acquire fails.

    A POSIX semaphore records no owner, so nothing can release it on the dead
    process's behalf (the stdlib behaves the same).
    """
    ctx = FORK
    lock, rlock, held = ctx.Lock(), ctx.RLock(), ctx.Semaphore(0)
    child = ctx.Process(target=targets.hold_and_hang, args=(lock, rlock, held))
    child.start()
    try:
        assert held.acquire(timeout=30)
    finally:
        child.kill()
        child.join(30)
    assert child.exitcode == -signal.SIGKILL
    assert not lock.acquire(timeout=0.01)
    assert not rlock.acquire(timeout=0.01)
    assert repr(lock) == "<Lock(owner=SomeOtherProcess)>"
    # Any process may release a plain Lock, which recovers it; an RLock cannot be.
    lock.release()
    assert lock.acquire(False)
    lock.release()


def test_fork_context_object_refused_by_spawn_child() -> None:
    sem = FORK.Semaphore(3)
    reader, writer = SPAWN.Pipe(duplex=False)
    child = SPAWN.Process(target=targets.echo_value, args=(writer, sem))
    try:
        with pytest.raises(RuntimeError, match="A SemLock created in a fork context is being"):
            child.start()
    finally:
        reader.close()
        writer.close()


_KILLED_CREATOR = textwrap.dedent(
    """
    import os, signal, sys
    from treadle import multiprocessing
    sem = multiprocessing.get_context("spawn").Semaphore(1)
    print(sem._semlock.name, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_killed_creator_leaks_no_semaphore() -> None:
    # The tracker holds the script's stderr open until it has cleaned up: when run()
    # returns (end of file on both streams), the semaphore must be gone.
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_CREATOR],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONWARNINGS": "default"},
    )
    assert done.returncode == -signal.SIGKILL
    name = done.stdout.strip()
    assert name.startswith("/mp-")
    assert not _sem_path(name).exists()
    assert name in done.stderr
