"""treadle.multiprocessing.heap: the shared heap that sharedctypes objects live in."""

from ._heap import Arena, BufferWrapper, Heap
from ._native import publish as _publish

__all__ = ["Arena", "BufferWrapper", "Heap"]

_publish(globals())
