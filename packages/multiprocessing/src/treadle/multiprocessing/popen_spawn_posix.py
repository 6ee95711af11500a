"""treadle.multiprocessing.popen_spawn_posix: the ``spawn`` start method's process handle."""

from ._native import publish as _publish
from ._popen_spawn import Popen

__all__ = ["Popen"]

_publish(globals())
