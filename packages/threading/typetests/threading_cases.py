"""Type tests of treadle.threading: what a type checker infers, and what it must refuse."""

from __future__ import annotations

import threading as std_threading

from typing_extensions import assert_type

from treadle import threading

# A thread the stdlib started is reported as the stdlib's object.
assert_type(threading.current_thread(), threading.Thread | std_threading.Thread)
assert_type(threading.main_thread(), threading.Thread)
assert_type(threading.enumerate(), list[threading.Thread | std_threading.Thread])
assert_type(threading.active_count(), int)

lock = threading.Lock()
assert_type(lock, threading.Lock)
assert_type(lock.acquire(timeout=1.5), bool)
with lock:
    pass

cond = threading.Condition()
with cond:
    assert_type(cond.wait_for(lambda: 3, timeout=1), int)
    assert_type(cond.wait_for(lambda: "ready"), str)
    assert_type(cond.wait(0.5), bool)

timer = threading.Timer(1.0, print, args=("late",))
assert_type(timer, threading.Timer)
assert_type(timer.finished, threading.Event)
timer.cancel()

data = threading.local()
assert_type(data, threading.local)
data.anything = 1

thread = threading.Thread(target=print, args=(1,), name="t", daemon=True)
assert_type(thread.ident, int | None)
assert_type(thread.name, str)
assert_type(threading.Semaphore(2).acquire(timeout=1), bool)
assert_type(threading.Barrier(2).wait(), int)

# Lines that must fail.
threading.Thread(target=3)  # type: ignore[arg-type]
threading.Timer("soon", print)  # type: ignore[arg-type]
threading.Lock(1)  # type: ignore[call-arg]
cond.wait_for(3)  # type: ignore[arg-type]
missing = threading.current_thread().no_such_attribute  # type: ignore[union-attr]
threading.Event().wait("1")  # type: ignore[arg-type]
