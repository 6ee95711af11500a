"""Targets of the forkserver and tracker tests' children (imported by name in the child).

The tests put this folder on ``sys.path`` (:func:`on_path`) before they start a child, so
that a spawned or forkserver child, which gets the parent's ``sys.path``, can import it.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def exit_with(code: int) -> None:
    """End the process with *code*."""
    sys.exit(code)


def wait_forever(ready: Any) -> None:
    """Say so on *ready*, then sleep until a signal ends the process."""
    # A forkserver started from a process that ignores SIGINT (a background shell's,
    # an xdist worker) hands the ignore on to its children, as the stdlib's does;
    # interrupt() is documented for the default handler: install it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ready.send(os.getpid())
    while True:
        signal.pause()


def report_tracker(conn: Any) -> None:
    """Send how this process reaches the resource tracker."""
    from treadle.multiprocessing import resource_tracker

    tracker = resource_tracker._resource_tracker
    fd = tracker._fd
    tracker.register("/treadle-child-probe", "dummy")
    tracker.unregister("/treadle-child-probe", "dummy")
    conn.send((fd is not None, tracker._pid is None, tracker._check_alive(), fd == tracker._fd))


def report_modules(conn: Any, names: list[str]) -> None:
    """Send which of *names* this process had imported when it started running."""
    conn.send({name: name in sys.modules for name in names})


class FdBox:
    """A descriptor that travels to a child as ``reduction.DupFd`` does it when pickled."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        from treadle.multiprocessing import reduction

        return _unbox, (reduction.DupFd(self.fd),)


def _unbox(holder: Any) -> int:
    return int(holder.detach())


def write_to_fd(fd: int, data: bytes) -> None:
    """Write *data* to descriptor *fd* (an unpickled :class:`FdBox`)."""
    os.write(fd, data)
    os.close(fd)
