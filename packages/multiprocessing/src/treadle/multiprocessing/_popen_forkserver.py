"""The Popen of the 'forkserver' start method: a child forked by the forkserver.

The process object is pickled here (with the descriptors it needs recorded by
:meth:`Popen.duplicate_for_child`), the forkserver forks the child and reports its pid,
and the child reads the payload from a pipe. The control connection stays open: the
server writes the exit code to it when the child ends, so it is the ``sentinel``.
"""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
from typing import Any

from . import _forkserver
from . import forkserver as _public  # noqa: F401 - binds the package's ``forkserver``, as the stdlib's import does (CPython's tests reach it)
from ._context import set_spawning_popen
from ._util import Finalize, _flush_std_streams, close_fds

__all__ = ["Popen"]

#: What ``returncode`` becomes when the server dies before reporting the exit code.
LOST = 255


class Popen:
    """A child process forked by the forkserver (the contract's Popen duck type)."""

    method = "forkserver"

    def __init__(self, process_obj: Any) -> None:
        """Start *process_obj* in a child forked by the forkserver."""
        _flush_std_streams()
        self.returncode: int | None = None
        self.pid: int | None = None
        self.sentinel: int | None = None
        self.finalizer: Finalize | None = None
        self._fds: list[int] = []
        self._creator = os.getpid()
        self._launch(process_obj)

    def duplicate_for_child(self, fd: int) -> int:
        """Send *fd* with the request; the child has it under the same number."""
        if fd not in self._fds:
            self._fds.append(fd)
        return fd

    def _launch(self, process_obj: Any) -> None:
        from . import _spawn  # noqa: PLC0415 - _spawn imports the context machinery

        data = _spawn.get_preparation_data(process_obj._name)
        payload = io.BytesIO()
        set_spawning_popen(self)
        try:
            _spawn.write_payload(payload, data, process_obj)
        finally:
            set_spawning_popen(None)
        sentinel, payload_w = _forkserver.connect_to_new_process(self._fds)
        # A duplicate of the payload pipe stays open here for the child's life: the
        # child watches its read end to learn that its parent is gone.
        keep = os.dup(payload_w)
        self.sentinel = sentinel
        self.finalizer = Finalize(self, close_fds, (keep, sentinel))
        # The payload goes first, so that the child finds it as soon as it is forked;
        # a payload larger than the pipe waits here for the child to read it.
        with open(payload_w, "wb", closefd=True) as pipe:
            try:
                pipe.write(payload.getbuffer())
            except BrokenPipeError:
                pass  # no child to read it: the server says why, or closes
        try:
            self.pid = _forkserver.read_signed(sentinel)
        except (OSError, EOFError) as exc:
            self.finalizer()
            raise OSError(f"the forkserver did not start the process: {exc}") from None

    def poll(self, flag: int = os.WNOHANG) -> int | None:
        """Return the exit code, or None while the child runs (``flag=0`` waits)."""
        return self.wait(0.0 if flag & os.WNOHANG else None)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to *timeout* seconds for the child; its exit code or None."""
        if self.returncode is None:
            sentinel = self.sentinel
            if sentinel is None:
                raise ValueError("the process object is closed")
            if os.getpid() != self._creator:
                # A fork child of the creator shares the control connection: reading the
                # exit code here would steal it from the creator, the one to report it.
                return None
            if timeout is not None and not _readable(sentinel, timeout):
                return None
            try:
                self.returncode = _forkserver.read_signed(sentinel)
            except (OSError, EOFError):
                self.returncode = LOST  # the forkserver died first
        return self.returncode

    def _signal(self, signum: int) -> None:
        # Once the exit code has arrived the pid may be another process's: no signal then.
        pid = self.pid
        if pid is None or self.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):  # ended, exit code not yet sent
            os.kill(pid, signum)

    def terminate(self) -> None:
        """Send SIGTERM to the child unless it has ended."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the child unless it has ended."""
        self._signal(signal.SIGKILL)

    def interrupt(self) -> None:
        """Send SIGINT to the child unless it has ended (3.14)."""
        self._signal(signal.SIGINT)

    def close(self) -> None:
        """Release the descriptors held for the child."""
        if self.finalizer is not None:
            self.finalizer()


def _readable(fd: int, timeout: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(timeout, 0.0) * 1000.0))
