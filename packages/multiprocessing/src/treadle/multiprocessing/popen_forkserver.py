"""The Popen of the 'forkserver' start method (what ``ForkServerProcess`` starts with)."""

from __future__ import annotations

from . import _native
from ._popen_forkserver import Popen

__all__ = ["Popen"]

_native.publish(globals())
