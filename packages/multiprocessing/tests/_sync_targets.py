"""Targets of the synchronize tests' children (imported by name in the child).

``conftest.py`` puts this folder on ``sys.path``; a spawned or forkserver child imports
this module to unpickle its target. Each child reports what it saw on a connection as
a dict, so that the test asserts in the parent, where pytest reports it.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def exercise(conn: Any, objs: dict[str, Any]) -> None:
    """Check, from another process, what the parent set up in *objs*; send the findings.

    The parent holds ``lock`` and ``rlock`` (twice) when this child starts, ``sem`` is
    at 0, ``event`` is clear and ``cond`` guards the count of ``turn``.
    """
    seen: dict[str, Any] = {}
    lock, rlock = objs["lock"], objs["rlock"]
    seen["lock_free"] = lock.acquire(timeout=0)
    seen["lock_locked"] = lock.locked()
    seen["lock_repr"] = repr(lock)
    seen["rlock_free"] = rlock.acquire(False)
    seen["rlock_repr"] = repr(rlock)
    try:
        rlock.release()
    except AssertionError as exc:
        seen["rlock_release"] = str(exc)
    bounded = objs["bounded"]
    try:
        bounded.release()
    except ValueError as exc:
        seen["bounded_release"] = str(exc)
    # Hand-shake 1: the parent waits on the semaphore, then lets go of the locks.
    objs["sem"].release()
    seen["lock_later"] = lock.acquire(timeout=30)
    seen["lock_repr_mine"] = repr(lock)
    lock.release()
    # Hand-shake 2: wait on the condition until the parent turns the count to 1.
    cond, turn = objs["cond"], objs["turn"]
    with cond:
        seen["cond_waited"] = cond.wait_for(lambda: turn.get_value() == 1, 30)
        turn.release()
        cond.notify()
    seen["event"] = objs["event"].wait(30)
    seen["barrier"] = objs["barrier"].wait(30)
    conn.send(seen)
    conn.close()


def barrier_party(conn: Any, barrier: Any, rounds: int) -> None:
    """Wait at *barrier* *rounds* times; send the arrival indices, then the broken error."""
    indices = [barrier.wait(30) for _ in range(rounds)]
    conn.send(indices)
    # The parent aborts the barrier while this child waits on it.
    try:
        barrier.wait(30)
    except threading.BrokenBarrierError:
        conn.send("broken")
    else:
        conn.send("passed")
    conn.close()


def count_round(sem: Any) -> None:
    """A barrier action: count one passed round on *sem*."""
    sem.release()


def hold_and_hang(lock: Any, rlock: Any, held: Any) -> None:
    """Take *lock* and *rlock*, say so on the semaphore *held*, then wait to be killed."""
    lock.acquire()
    rlock.acquire()
    held.release()
    while True:
        signal.pause()


def echo_value(conn: Any, sem: Any) -> None:
    """Send *sem*'s value (only runs if the semaphore reached the child)."""
    conn.send(sem.get_value())
    conn.close()


def pass_on(sem: Any, method: str) -> None:
    """Hand *sem* (received from the parent) on to a child of this child, which releases it."""
    from treadle import multiprocessing

    grandchild = multiprocessing.get_context(method).Process(target=count_round, args=(sem,))
    grandchild.start()
    grandchild.join()
    raise SystemExit(grandchild.exitcode)
