"""treadle.sched: the Python 3.14 ``sched`` module on CPython 3.10 and later.

A general-purpose event scheduler, safe to use from several threads at once, whose
``cancel`` costs O(log n) (amortised) instead of a scan of the queue.
"""

from treadle.thread_core import support as _support

from ._scheduler import Event, scheduler

# The stdlib lists only "scheduler" in __all__; Event is public here too (the project rule).
__all__ = ["Event", "scheduler"]

_support.publish(globals())
