"""Connections between threads (``multiprocessing.dummy.connection``), over queues.

The API of :mod:`treadle.multiprocessing.connection` for threads of one process: objects
are passed as they are (nothing is pickled). A :class:`Listener`'s ``address`` is the
queue that :func:`Client` hands its connection request to.
"""

from __future__ import annotations

from .._pool import DummyClient as Client
from .._pool import DummyConnection as Connection
from .._pool import DummyListener as Listener
from .._pool import DummyPipe as Pipe

__all__ = ["Client", "Connection", "Listener", "Pipe"]

# The one family these connections have (the stdlib's attribute, outside its __all__).
families = ["dummy"]
