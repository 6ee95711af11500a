"""treadle.multiprocessing.queues: queues between processes (3.14's names).

:class:`Queue` (with a feeder thread), :class:`JoinableQueue` (``task_done``/``join``)
and :class:`SimpleQueue`; normally made through a context (``ctx.Queue()``).
``get_nowait``/``put_nowait`` raise the stdlib's :exc:`queue.Empty`/:exc:`queue.Full`
(treadle's subclasses of them). Beyond the stdlib: ``Queue.shutdown(immediate=False)``
across processes, raising :exc:`treadle.queue.ShutDown`.
"""

from ._native import publish as _publish
from ._queues import JoinableQueue, Queue, SimpleQueue

__all__ = ["JoinableQueue", "Queue", "SimpleQueue"]

_publish(globals())
