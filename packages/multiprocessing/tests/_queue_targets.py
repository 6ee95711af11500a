"""Targets of the queue tests' children (imported by name in spawned children).

Each child does several checks and reports what it saw on a queue or a plain
connection, so that one child per start method covers many behaviours.
"""

from __future__ import annotations

import os
import queue
import signal
from typing import Any

from treadle.queue import ShutDown


def echo_round(q: Any, back: Any, jq: Any, sq: Any) -> None:
    """Read items from *q* until None, send them back on *back*; then the other queues."""
    seen = []
    while (item := q.get(timeout=30)) is not None:
        seen.append(item)
    back.put(("items", seen))
    # JoinableQueue: take each item and mark it done.
    for _ in range(3):
        jq.get(timeout=30)
        jq.task_done()
    # SimpleQueue: one object from here.
    sq.put(("simple", os.getpid()))
    # The feeder of this child flushes at exit: no join_thread needed.
    for number in range(200):
        back.put(number)


def put_many_and_exit(q: Any, count: int, payload: bytes) -> None:
    """Put *count* items of *payload* and exit at once (the feeder flushes at exit)."""
    for number in range(count):
        q.put((number, payload))


def put_big_and_cancel(q: Any, size: int) -> None:
    """Put an item larger than a pipe holds, give up joining the feeder, and exit."""
    q.put(b"x" * size)
    q.cancel_join_thread()


def get_then_die(q: Any, said: Any) -> None:
    """Take one item, report it, then block in get() until killed."""
    said.send(q.get(timeout=30))
    said.send("blocking")
    q.get()


def wait_for_shutdown(q: Any, said: Any) -> None:
    """Block in get() until the queue is shut down; report what put and get raised."""
    said.send("ready")
    outcome: list[object] = []
    try:
        while True:
            outcome.append(("item", q.get(timeout=30)))
    except ShutDown:
        outcome.append("get ShutDown")
    except queue.Empty:
        outcome.append("get Empty")
    try:
        q.put(1)
    except ShutDown:
        outcome.append("put ShutDown")
    said.send(outcome)


def block_in_put(q: Any, said: Any) -> None:
    """Fill *q* (maxsize 1) and block on a second put until the queue is shut down."""
    q.put(0)
    said.send("ready")
    try:
        q.put(1, timeout=30)
    except ShutDown:
        said.send("put ShutDown")
    except queue.Full:
        said.send("put Full")


def shut_down_from_child(q: Any, immediate: bool) -> None:
    """Shut the queue down from this process."""
    q.shutdown(immediate=immediate)


def kill_self() -> None:
    """End this process with SIGKILL (no clean-up at all)."""
    os.kill(os.getpid(), signal.SIGKILL)


def put_and_wait(q: Any, said: Any, count: int) -> None:
    """Put one item, then on word *count* items (which the feeder cannot send: the
    parent holds the write lock), then wait to be killed."""
    q.put("warm")
    said.recv()
    for number in range(count):
        q.put(number)
    said.send("put")
    said.recv()  # until killed


def die_mid_message(q: Any, said: Any) -> None:
    """Take the reader's lock and say "mid-message", as a reader of a long message does."""
    from treadle.multiprocessing import _queues

    assert _queues._take(q._rlock._semlock, q._map, _queues._READER_SLOT, True, None)
    _queues._pack_pid(q._map, _queues._READER_SLOT, -os.getpid())
    said.send("held")
    said.recv()  # until killed
