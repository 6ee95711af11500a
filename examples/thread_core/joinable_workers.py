"""Start joinable worker threads with treadle.thread_core and collect their results.

Each worker names its OS thread (visible in ``top -H`` or ``ps -L``), keeps a
per-thread counter in thread-local data, and adds its result under a lock.
"""

from __future__ import annotations

import functools

from treadle import thread_core

results: dict[str, int] = {}
results_lock = thread_core.allocate_lock()
scratch = thread_core.local()


def worker(name: str, numbers: range) -> None:
    if hasattr(thread_core, "set_name"):
        thread_core.set_name(name)
    scratch.total = 0
    for n in numbers:
        scratch.total += n * n
    with results_lock:
        results[name] = scratch.total


handles = [
    thread_core.start_joinable_thread(
        functools.partial(worker, f"squares-{i}", range(i * 1000, (i + 1) * 1000))
    )
    for i in range(4)
]
for handle in handles:
    handle.join()

for name in sorted(results):
    print(f"{name}: {results[name]}")
assert sum(results.values()) == sum(n * n for n in range(4000))
print("all workers joined; the main thread has no scratch total:", not hasattr(scratch, "total"))
