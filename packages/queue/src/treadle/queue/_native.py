"""What differs between Python versions, and the one use of the stdlib's ``queue``.

- ``Empty`` and ``Full`` derive from the stdlib's ``queue.Empty`` and ``queue.Full``, so
  code that catches those (``logging.handlers.QueueListener``, for one) catches
  treadle's too. Importing the stdlib ``queue`` module for these base classes is the one
  use of it allowed here; none of its behaviour is used.
- ``queue.ShutDown`` exists from 3.13 on: there treadle's ``ShutDown`` derives from it as
  well, so ``except queue.ShutDown`` keeps working; before 3.13 it derives from Exception,
  as the 3.13 class does.

No other module of this package tests the Python version or names a private stdlib object.
"""

from __future__ import annotations

import queue as _stdlib_queue
import sys

__all__ = ["Empty", "Full", "ShutDown"]


class Empty(_stdlib_queue.Empty):
    """Raised by a non-blocking ``get()`` (or one that timed out) on an empty queue."""


class Full(_stdlib_queue.Full):
    """Raised by a non-blocking ``put()`` (or one that timed out) on a full queue."""


if sys.version_info >= (3, 13):

    class ShutDown(_stdlib_queue.ShutDown):
        """Raised by ``put()`` and ``get()`` on a queue that has been shut down."""

else:

    class ShutDown(Exception):
        """Raised by ``put()`` and ``get()`` on a queue that has been shut down."""
