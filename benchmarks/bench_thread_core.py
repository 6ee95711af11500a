"""treadle.thread_core against the interpreter's ``_thread``.

Issue targets: lock acquire/release and thread start+join within 1.1x of the stdlib;
a ``local`` attribute read within 1.2x of the interpreter's ``_thread._local`` (treadle's
``local`` is a subclass of it).
"""

from __future__ import annotations

import _thread
import sys
import threading
import time

from _harness import Case

from treadle import thread_core


def _lock_pair(make: object) -> object:
    def run(n: int) -> float:
        lk = make()  # type: ignore[operator]
        acquire, release = lk.acquire, lk.release
        t0 = time.perf_counter()
        for _ in range(n):
            acquire()
            release()
        return time.perf_counter() - t0

    return run


def _noop() -> None:
    pass


def _treadle_start_join(n: int) -> float:
    start = thread_core.start_joinable_thread
    t0 = time.perf_counter()
    for _ in range(n):
        start(_noop).join()
    return time.perf_counter() - t0


if sys.version_info >= (3, 13):

    def _stdlib_primitive_start_join(n: int) -> float:
        start = _thread.start_joinable_thread
        t0 = time.perf_counter()
        for _ in range(n):
            start(_noop).join()
        return time.perf_counter() - t0

else:

    def _stdlib_primitive_start_join(n: int) -> float:
        # Before 3.13 _thread has no joinable threads: the closest primitive is a thread
        # that releases a lock as its last act.
        t0 = time.perf_counter()
        for _ in range(n):
            done = _thread.allocate_lock()
            done.acquire()
            _thread.start_new_thread(done.release, ())
            done.acquire()
        return time.perf_counter() - t0


def _stdlib_thread_start_join(n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        t = threading.Thread(target=_noop)
        t.start()
        t.join()
    return time.perf_counter() - t0


def _local_get(make: object) -> object:
    def run(n: int) -> float:
        data = make()  # type: ignore[operator]
        data.value = 1
        t0 = time.perf_counter()
        for _ in range(n):
            data.value  # noqa: B018
        return time.perf_counter() - t0

    return run


CASES = [
    Case(
        "Lock acquire+release",
        _lock_pair(_thread.allocate_lock),  # type: ignore[arg-type]
        _lock_pair(thread_core.allocate_lock),  # type: ignore[arg-type]
        n=200_000,
        target=1 / 1.1,
    ),
    Case(
        "RLock acquire+release",
        _lock_pair(_thread.RLock),  # type: ignore[arg-type]
        _lock_pair(thread_core.RLock),  # type: ignore[arg-type]
        n=200_000,
        target=1 / 1.1,
    ),
    Case(
        "start+join vs _thread primitive",
        _stdlib_primitive_start_join,
        _treadle_start_join,
        n=2_000,
        target=1 / 1.1,
        note="3.13+: _thread.start_joinable_thread; before: start_new_thread + lock",
    ),
    Case(
        "start+join vs threading.Thread",
        _stdlib_thread_start_join,
        _treadle_start_join,
        n=2_000,
        target=1 / 1.1,
    ),
    Case(
        "local attribute read",
        _local_get(_thread._local),  # type: ignore[arg-type]
        _local_get(thread_core.local),  # type: ignore[arg-type]
        n=200_000,
        target=1 / 1.2,
        note="a subclass of _thread._local: the lookup goes through the type's MRO",
    ),
]
