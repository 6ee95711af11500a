"""Targets of the shared-memory tests' children (imported by name in the child).

``conftest.py`` puts this folder on ``sys.path``, so a spawned or forkserver child can
import this module to unpickle its target. Each target does several checks and reports
through its exit code (0: every check passed), so that one child covers a whole case.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from treadle.multiprocessing import shared_memory


class Point(ctypes.Structure):
    """A structure type for Value(Point, ...)."""

    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_double)]


def work_on_shared(value: Any, array: Any, text: Any, point: Any, raws: Any) -> None:
    """Check what the parent stored, then change every object; exit 1 on a mismatch.

    *raws* is a pair: a RawValue and a RawArray.
    """
    raw, rawarr = raws
    seen = (value.value, list(array[:]), text.value, point.x, point.y, raw.value, rawarr[:])
    expected = (7, [0.0, 1.0, 2.0, 3.0], b"hello", 3, 0.5, 11, [1, 2, 3])
    if seen != expected:
        print(f"child saw {seen!r}", file=sys.stderr)
        sys.exit(1)
    with value.get_lock():
        value.value += 1
    for index in range(len(array)):
        array[index] = array[index] * 2
    array[1:3] = [10.0, 20.0]
    text.value = b"howdy!"
    point.x, point.y = 30, 1.5
    raw.value = 12
    rawarr[0] = 100


def add_under_lock(value: Any, times: int) -> None:
    """Increment *value* *times* times, each under its lock."""
    for _ in range(times):
        with value.get_lock():
            value.value += 1


def attach_and_write(name_or_shm: Any, data: bytes) -> None:
    """Attach the segment (a name or a pickled SharedMemory) untracked and write *data*."""
    if isinstance(name_or_shm, str):
        segment = shared_memory.SharedMemory(name_or_shm, track=False)
    else:
        segment = name_or_shm
    segment.buf[: len(data)] = data
    segment.close()


def create_untracked_and_exit(conn: Any, data: bytes) -> None:
    """Create a segment with track=False holding *data*, send its name, and exit."""
    segment = shared_memory.SharedMemory(create=True, size=4096, track=False)
    segment.buf[: len(data)] = data
    conn.send_bytes(segment.name.encode())
    conn.close()
    segment.close()


def expect_contents(name: str, data: bytes) -> None:
    """Attach segment *name* untracked; exit 1 unless it starts with *data*."""
    segment = shared_memory.SharedMemory(name, track=False)
    found = bytes(segment.buf[: len(data)])
    segment.close()
    if found != data:
        print(f"child found {found!r}", file=sys.stderr)
        sys.exit(1)


def change_list(items: Any) -> None:
    """Check and change a ShareableList received from the parent."""
    if list(items) != [1, "two", b"three", None, 4.5, True]:
        sys.exit(1)
    items[0] = -1
    items[1] = "dos"
    items[3] = 99
    items.shm.close()


def allocate_in_fork_child(wrapper: Any) -> None:
    """In a fork child: the heap starts afresh, and the inherited block stays readable."""
    from treadle.multiprocessing import heap

    own = heap.BufferWrapper._heap
    fresh = heap.BufferWrapper(64)  # the first malloc in the child resets the heap
    fresh.create_memoryview()[:3] = b"new"
    if bytes(wrapper.create_memoryview()[:3]) != b"old":
        sys.exit(3)
    if len(own._arenas) != 1 or own._n_mallocs != 1:
        sys.exit(4)
