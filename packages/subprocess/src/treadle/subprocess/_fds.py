"""Descriptor plumbing: the pipes and descriptors between Popen and its child.

A :class:`Plumbing` turns Popen's ``stdin``/``stdout``/``stderr`` arguments into the
descriptors the child gets on 0, 1 and 2 and the parent's ends of any pipes, remembers
which of them it created, and closes them again: the child's ends once the child has
them, everything it still owns when starting the child failed.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import IO, Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: importing must work
    fcntl = None  # type: ignore[assignment]

__all__ = ["DEVNULL", "NO_ENDS", "PIPE", "STDOUT", "Ends", "Plumbing", "parent_stream"]

PIPE = -1
STDOUT = -2
DEVNULL = -3

_CAN_SIZE_PIPES = fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ")


class Ends(NamedTuple):
    """For each standard stream, the child's descriptor and the parent's pipe end (-1: none)."""

    child_stdin: int
    parent_stdin: int
    parent_stdout: int
    child_stdout: int
    parent_stderr: int
    child_stderr: int


NO_ENDS = Ends(-1, -1, -1, -1, -1, -1)  # everything inherited


class Plumbing:
    """The descriptors one Popen call creates, until they are handed over or closed."""

    def __init__(self, pipesize: int) -> None:
        self.pipesize = pipesize
        self.owned: list[int] = []  # created here, not yet closed nor handed to a file object
        self.child_side: list[int] = []
        self.devnull: int | None = None

    def connect(self, stdin: Any, stdout: Any, stderr: Any) -> Ends:
        """Make the descriptors for the three stream arguments."""
        child_in, parent_in = self._stream(stdin, "stdin", child_reads=True)
        child_out, parent_out = self._stream(stdout, "stdout", child_reads=False)
        if stderr == STDOUT:
            parent_err = -1
            # Where stdout goes; with stdout inherited, to the parent's own stdout.
            child_err = child_out if child_out != -1 else _inherited_stdout()
        else:
            child_err, parent_err = self._stream(stderr, "stderr", child_reads=False)
        self.child_side = [fd for fd in (child_in, child_out, child_err) if fd in self.owned]
        return Ends(child_in, parent_in, parent_out, child_out, parent_err, child_err)

    def _stream(self, spec: Any, name: str, *, child_reads: bool) -> tuple[int, int]:
        # (the child's descriptor, the parent's end of a pipe), -1 for none.
        if spec is None:
            return -1, -1
        if spec == PIPE:
            read_end, write_end = os.pipe()
            self.owned += (read_end, write_end)
            if self.pipesize > 0 and _CAN_SIZE_PIPES:
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, self.pipesize)
            return (read_end, write_end) if child_reads else (write_end, read_end)
        if spec == DEVNULL:
            if self.devnull is None:
                self.devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            return self.devnull, -1
        if isinstance(spec, int):
            return spec, -1
        fileno = getattr(spec, "fileno", None)
        if fileno is None:
            raise TypeError(
                f"{name} must be PIPE, DEVNULL, STDOUT, None, a file descriptor or an object "
                f"with a fileno() method, not {type(spec).__name__}"
            )
        fd: int = fileno()
        return fd, -1

    def hand_over(self, fd: int) -> None:
        """*fd* now belongs to a file object, which closes it."""
        self.owned.remove(fd)

    def close_child_side(self) -> None:
        """Close the child's ends of the pipes and /dev/null: the child has its copies."""
        for fd in self.child_side:
            self._close(fd)
        self.child_side = []
        if self.devnull is not None:
            with contextlib.suppress(OSError):
                os.close(self.devnull)
            self.devnull = None

    def close_all(self) -> None:
        """Close every descriptor still owned (starting the child failed)."""
        self.child_side = list(self.owned)
        self.close_child_side()

    def _close(self, fd: int) -> None:
        if fd in self.owned:
            self.owned.remove(fd)
            with contextlib.suppress(OSError):
                os.close(fd)


def _inherited_stdout() -> int:
    stream = sys.__stdout__
    return stream.fileno() if stream is not None else 1


def parent_stream(  # noqa: PLR0917 - Popen calls it three times with one tuple
    fd: int,
    writing: bool,
    bufsize: int,
    text_mode: bool,
    encoding: str | None,
    errors: str | None,
    line_buffering: bool = False,
) -> IO[Any] | None:
    """Return the file object for Popen's end of a pipe (None where there is no pipe)."""
    if fd == -1:
        return None
    raw = open(fd, "wb" if writing else "rb", bufsize)  # noqa: SIM115 - Popen owns it
    if not text_mode:
        return raw
    # A text stdin writes through, so what is written reaches the child without a flush.
    return io.TextIOWrapper(
        raw,
        encoding=encoding,
        errors=errors,
        write_through=writing,
        line_buffering=line_buffering,
    )
