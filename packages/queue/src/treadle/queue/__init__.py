"""treadle.queue: the Python 3.14 ``queue`` module on CPython 3.10 and later.

``Queue``, ``LifoQueue``, ``PriorityQueue`` (with ``shutdown()`` and ``ShutDown`` on every
version) and ``SimpleQueue``, built on ``treadle.thread_core``. ``Empty``, ``Full`` and
``ShutDown`` derive from the stdlib's, so code catching those catches treadle's too.
"""

from treadle.thread_core import support as _support

from ._queues import Empty, Full, LifoQueue, PriorityQueue, Queue, ShutDown
from ._simple import SimpleQueue

# The pure-Python SimpleQueue of the stdlib has this private name; treadle has only one.
_PySimpleQueue = SimpleQueue

__all__ = [
    "Empty",
    "Full",
    "LifoQueue",
    "PriorityQueue",
    "Queue",
    "ShutDown",
    "SimpleQueue",
]

_support.publish(globals())
