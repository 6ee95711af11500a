"""Type tests of treadle.thread_core: what a type checker infers, and what it must refuse."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from treadle import thread_core


def work() -> None:
    """Do nothing, in a thread."""


# Locks are the interpreter's own.
lk = thread_core.allocate_lock()
assert_type(lk, thread_core.LockType)
assert_type(lk.acquire(True, 1.5), bool)
assert_type(thread_core.RLock().locked(), bool)

# Joinable threads and their handles.
handle = thread_core.start_joinable_thread(work, daemon=False)
assert_type(handle.ident, int)
assert_type(handle.is_done(), bool)
assert_type(handle.join(0.5), None)
assert_type(thread_core.start_new_thread(print, ("hello",)), int)

# Identifiers.
assert_type(thread_core.get_ident(), int)
assert_type(thread_core.get_native_id(), int)

# Thread-local data: any attribute, of any type.
data = thread_core.local()
data.user = "alice"  # any attribute may be set
assert_type(data.request_id, Any)

# What must be refused.
thread_core.allocate_lock(1)  # type: ignore[call-arg]
thread_core.start_joinable_thread(work, daemon="yes")  # type: ignore[arg-type]
thread_core.start_new_thread(work, [1])  # type: ignore[arg-type]
handle.join("soon")  # type: ignore[arg-type]
thread_core.get_ident() + "x"  # type: ignore[operator]
thread_core.local(1)  # type: ignore[call-arg]
