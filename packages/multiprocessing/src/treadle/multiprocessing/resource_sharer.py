"""treadle.multiprocessing.resource_sharer: serving descriptors to running processes.

:class:`DupFd` wraps a descriptor for a process that is already running; :func:`stop`
ends the serving thread.
"""

from ._native import publish as _publish
from ._resource_sharer import DupFd, stop

__all__ = ["DupFd", "stop"]

_publish(globals())
