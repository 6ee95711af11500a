"""The Popen of the 'forkserver' start method (what ``ForkServerProcess`` starts with)."""

from __future__ import annotations

from treadle.thread_core.support import publish as _publish

from ._popen_forkserver import Popen

__all__ = ["Popen"]

_publish(globals())
