"""The ``spawn`` start method: the child is a new interpreter, started by fork+exec.

The process object is pickled (and checked) before anything is started; the child gets
the payload over a pipe whose write end the parent keeps until the Popen is closed, so
the child's copy of the read end doubles as its "parent is alive" sentinel.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import os
import signal
from typing import Any

from . import _context, _spawn, _util
from ._popen_fork import Popen as _ForkPopen

__all__ = ["Popen"]


class Popen(_ForkPopen):
    """A child process started with spawn; the parent's handle on it."""

    method = "spawn"

    def __init__(self, process_obj: Any) -> None:
        self._fds: list[int] = []
        super().__init__(process_obj)

    def duplicate_for_child(self, fd: int) -> int:
        """Keep *fd* open in the child, under the same number."""
        self._fds.append(fd)
        return fd

    def _launch(self, process_obj: Any) -> None:
        import io

        tracker_fd = _tracker_fd()
        if tracker_fd is not None:
            self._fds.append(tracker_fd)
        data = _spawn.get_preparation_data(process_obj._name)
        payload = io.BytesIO()
        _context.set_spawning_popen(self)
        try:
            _spawn.write_payload(payload, data, process_obj)
        finally:
            _context.set_spawning_popen(None)

        parent_r = child_w = child_r = parent_w = -1
        try:
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            argv = _spawn.get_command_line(child_r, tracker_fd)
            self.pid = _util.spawnv_passfds(
                _spawn.get_executable(), argv, [*self._fds, child_r, child_w]
            )
            self.sentinel = parent_r
            _write_all(parent_w, payload.getbuffer())
        except BaseException:
            if self.pid:
                # The child started but could not be fed: it must not outlive this call.
                self._send_signal(signal.SIGKILL)
                self.poll(0)
            for fd in (parent_r, parent_w):
                if fd >= 0:
                    os.close(fd)
            raise
        finally:
            for fd in (child_r, child_w):
                if fd >= 0:
                    os.close(fd)
        self.finalizer = _util.Finalize(self, _util.close_fds, (parent_r, parent_w))


def _write_all(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _tracker_fd() -> int | None:
    try:
        from . import _tracker  # type: ignore[attr-defined,unused-ignore]
    except ImportError:  # pragma: no cover - while the package is assembled
        return None
    fd: int = _tracker.getfd()
    return fd
