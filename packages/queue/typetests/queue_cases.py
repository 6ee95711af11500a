"""Type tests of treadle.queue: what a type checker infers, and what it must refuse."""

from __future__ import annotations

from typing_extensions import assert_type

from treadle import queue

# --- Queue ------------------------------------------------------------------------------

q: queue.Queue[int] = queue.Queue()
assert_type(q.get(), int)
assert_type(q.get(True, 1.5), int)
assert_type(q.get(timeout=None), int)
assert_type(q.get_nowait(), int)
assert_type(q.put(1), None)
assert_type(q.put(1, block=False, timeout=0.5), None)
assert_type(q.put_nowait(2), None)
assert_type(q.qsize(), int)
assert_type(q.empty(), bool)
assert_type(q.full(), bool)
assert_type(q.task_done(), None)
assert_type(q.join(), None)
assert_type(q.shutdown(), None)
assert_type(q.shutdown(immediate=True), None)
assert_type(q.maxsize, int)
assert_type(q.unfinished_tasks, int)
assert_type(q.is_shutdown, bool)
assert_type(queue.Queue[str](10), queue.Queue[str])
q.put("x")  # type: ignore[arg-type]
q.put_nowait(None)  # type: ignore[arg-type]
q.put(1, timeout="1")  # type: ignore[arg-type]
q.get(timeout="1")  # type: ignore[arg-type]
q.shutdown(True, 1)  # type: ignore[call-arg]
queue.Queue("3")  # type: ignore[arg-type]
name: str = q.get()  # type: ignore[assignment]

# --- LifoQueue and PriorityQueue ----------------------------------------------------------

stack: queue.LifoQueue[str] = queue.LifoQueue(5)
assert_type(stack.get(), str)
assert_type(stack.queue, list[str])
stack.put(3)  # type: ignore[arg-type]

jobs: queue.PriorityQueue[tuple[int, str]] = queue.PriorityQueue()
assert_type(jobs.get(), tuple[int, str])
assert_type(jobs.queue, list[tuple[int, str]])
jobs.put((1, "a"))
jobs.put("a")  # type: ignore[arg-type]
queue.PriorityQueue[object]()  # type: ignore[type-var]  # objects do not order

base: queue.Queue[str] = stack  # every kind is a Queue

# --- SimpleQueue --------------------------------------------------------------------------

simple: queue.SimpleQueue[bytes] = queue.SimpleQueue()
assert_type(simple.get(), bytes)
assert_type(simple.get(timeout=1), bytes)
assert_type(simple.get_nowait(), bytes)
assert_type(simple.put(b"x"), None)
assert_type(simple.put_nowait(b"y"), None)
assert_type(simple.qsize(), int)
assert_type(simple.empty(), bool)
simple.put("x")  # type: ignore[arg-type]
simple.task_done()  # type: ignore[attr-defined]
queue.SimpleQueue(1)  # type: ignore[call-arg]

# --- the exceptions -----------------------------------------------------------------------

try:
    q.get_nowait()
except queue.Empty as empty:
    assert_type(empty, queue.Empty)
except queue.ShutDown as down:
    assert_type(down, queue.ShutDown)
try:
    q.put_nowait(1)
except queue.Full as full:
    assert_type(full, queue.Full)
problem: Exception = queue.Empty()
not_a_queue_error: queue.Empty = queue.Full()  # type: ignore[assignment]
