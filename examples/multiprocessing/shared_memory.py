"""Share memory between processes: a locked counter, an array, a segment and a list.

``ctx.Value``/``ctx.Array`` live in the shared heap and reach a child as ``Process``
arguments; ``SharedMemory`` and ``ShareableList`` are named segments that any process may
attach by name. Creating a segment reserves its pages, so a full ``/dev/shm`` is an
``OSError`` at creation rather than a crash at a later write (``reserve=False`` opts out).
"""

from __future__ import annotations

from typing import Any

from treadle import multiprocessing
from treadle.multiprocessing.shared_memory import ShareableList, SharedMemory


def work(counter: Any, squares: Any, segment_name: str, items: Any) -> None:
    """Add to the counter under its lock, fill the array, write into the segment."""
    for _ in range(1000):
        with counter.get_lock():
            counter.value += 1
    for index in range(len(squares)):
        squares[index] = index * index
    segment = SharedMemory(segment_name, track=False)  # the parent owns its lifetime
    segment.buf[:5] = b"hello"
    segment.close()
    items[0] = "child"
    items.shm.close()


if __name__ == "__main__":
    ctx = multiprocessing.get_context()
    counter = ctx.Value("i", 0)
    squares = ctx.Array("d", 5)
    segment = SharedMemory(create=True, size=64)
    items = ShareableList(["original", 42, None])
    try:
        children = [
            ctx.Process(target=work, args=(counter, squares, segment.name, items)) for _ in range(2)
        ]
        for child in children:
            child.start()
        for child in children:
            child.join()
        print("counter:", counter.value)  # 2000
        print("squares:", squares[:])
        print("segment:", bytes(segment.buf[:5]))
        print("list:", list(items), "format", items.format)
    finally:
        items.shm.close()
        items.shm.unlink()
        segment.close()
        segment.unlink()
