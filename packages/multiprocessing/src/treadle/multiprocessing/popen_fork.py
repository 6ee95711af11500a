"""treadle.multiprocessing.popen_fork: the ``fork`` start method's process handle."""

from ._native import publish as _publish
from ._popen_fork import Popen

__all__ = ["Popen"]

_publish(globals())
