"""Communicate: feed the child's stdin and read its stdout and stderr, all at once.

With one pipe and no time limit there is nothing to multiplex: :func:`feed_and_close`
or :func:`read_to_eof` does it directly. Otherwise an :class:`Exchange` drives a selector
over the pipes. It lives on the Popen across calls, so that a communicate() cut short by
its timeout leaves the input not yet written and the output read so far for the next
call, and for the TimeoutExpired it raises.
"""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import sys
import time
from typing import IO, TYPE_CHECKING, Any

from . import _native
from ._errors import TimeoutExpired

if TYPE_CHECKING:
    from ._popen import Popen
    from ._tee import Tee

__all__ = ["DefaultSelector", "Exchange", "captured", "feed_and_close", "read_to_eof"]

# poll() copes with any descriptor number, select() does not.
DefaultSelector: type[selectors.BaseSelector] = getattr(
    selectors, "PollSelector", selectors.SelectSelector
)

_PIPE_CAPACITY = 65536  # Linux's default pipe size: the most one read(2) returns
_PACKAGE = __name__.rpartition(".")[0]


def _selector() -> selectors.BaseSelector:
    # The package's _PopenSelector, looked up now: tests swap it as on the stdlib module.
    cls = getattr(sys.modules.get(_PACKAGE), "_PopenSelector", DefaultSelector)
    return cls()


def feed_and_close(stream: IO[Any], data: Any) -> None:
    """Write *data* (if any) to the child's stdin and close it.

    A child that exits without reading everything is not an error (EPIPE is ignored).
    """
    with contextlib.suppress(BrokenPipeError):
        if data:
            stream.write(data)
    with contextlib.suppress(BrokenPipeError):
        stream.close()


def read_to_eof(stream: IO[Any], pipesize: int) -> Any:
    """Read *stream* to its end and close it; what ``stream.read()`` would return.

    A binary pipe is read a pipe-full at a time and joined once at the end. Its read()
    grows one buffer by realloc instead (by 1/8 at a time on 3.10), and once the
    allocator serves large blocks from the heap a growth step can copy the whole buffer;
    measured on 10 MB, read() cost 2-4 ms more parent CPU than this loop.
    """
    with stream:
        if type(stream) is not io.BufferedReader:
            return stream.read()
        read1 = stream.read1  # buffered bytes first, then one read(2) per call
        size = max(pipesize, _PIPE_CAPACITY)
        chunks: list[bytes] = []
        while chunk := read1(size):
            chunks.append(chunk)
        return b"".join(chunks)


def _flat_bytes(data: Any) -> memoryview:
    """View *data* as flat bytes, so that offsets count bytes whatever the item size."""
    view = memoryview(data)
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
    return view


class Exchange:
    """What communicate() has still to write and has read so far, for one Popen."""

    __slots__ = ("offset", "proc", "read", "read_size", "tee", "unsent")

    def __init__(self, proc: Popen[Any], input: Any, tee: Tee | None) -> None:
        self.proc = proc
        self.tee = tee
        self.read: dict[str, list[bytes]] = {}
        if proc.stdout is not None:
            self.read["stdout"] = []
        if proc.stderr is not None:
            self.read["stderr"] = []
        self.read_size = max(proc.pipesize, _PIPE_CAPACITY)
        self.unsent: memoryview | None = None
        self.offset = 0
        stdin = proc.stdin
        if stdin is None:
            return
        # What the caller wrote before communicate() may still sit in the buffer.
        with contextlib.suppress(BrokenPipeError, ValueError):
            stdin.flush()
        if not input:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
            return
        if proc.text_mode:
            wrapper: Any = stdin
            input = input.encode(wrapper.encoding, wrapper.errors)
        self.unsent = _flat_bytes(input)

    def pump(self, deadline: float | None, reported: object) -> None:
        """Move data until every pipe is closed; TimeoutExpired at *deadline*."""
        proc = self.proc
        with _selector() as selector:
            stdin = proc.stdin
            if self.unsent is not None and stdin is not None and not stdin.closed:
                selector.register(stdin, selectors.EVENT_WRITE, None)
            for name in self.read:
                stream = proc.stdout if name == "stdout" else proc.stderr
                if stream is not None and not stream.closed:
                    selector.register(stream, selectors.EVENT_READ, name)
            while selector.get_map():
                left = None
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise self.expired(reported)
                for key, _ in selector.select(left):
                    finished = self._send(key.fd) if key.data is None else self._receive(key)
                    if finished:
                        selector.unregister(key.fileobj)
                        with contextlib.suppress(BrokenPipeError):
                            key.fileobj.close()  # type: ignore[union-attr]

    def _send(self, fd: int) -> bool:
        unsent = self.unsent
        assert unsent is not None
        try:
            self.offset += os.write(fd, unsent[self.offset : self.offset + _native.PIPE_BUF])
        except BrokenPipeError:
            return True  # the child stopped reading: the rest is dropped, as documented
        return self.offset >= len(unsent)

    def _receive(self, key: selectors.SelectorKey) -> bool:
        name: str = key.data
        data = os.read(key.fd, self.read_size)
        if self.tee is not None:
            if data:
                self.tee.feed(name, data)
            else:
                self.tee.end(name)
        if not data:
            return True
        self.read[name].append(data)
        return False

    def so_far(self, name: str) -> bytes | None:
        """Return the bytes read from stream *name* so far; None if it is not a pipe."""
        chunks = self.read.get(name)
        return None if chunks is None else b"".join(chunks)

    def expired(self, reported: object) -> TimeoutExpired:
        """Return the TimeoutExpired for a deadline that passed, with the output so far."""
        return TimeoutExpired(
            self.proc.args,
            reported,  # type: ignore[arg-type]
            output=self.so_far("stdout"),
            stderr=self.so_far("stderr"),
        )

    def results(self) -> tuple[Any, Any]:
        """(stdout, stderr) as communicate() returns them: str in text mode."""
        out, err = self.so_far("stdout"), self.so_far("stderr")
        proc = self.proc
        if not proc.text_mode:
            return out, err
        encoding = proc.encoding or _native.default_encoding()
        return _as_text(out, encoding, proc.errors), _as_text(err, encoding, proc.errors)


def _as_text(data: bytes | None, encoding: str, errors: str | None) -> str | None:
    if data is None:
        return None
    return data.decode(encoding, errors or "strict").replace("\r\n", "\n").replace("\r", "\n")


def captured(proc: Popen[Any]) -> tuple[bytes | None, bytes | None]:
    """Return the bytes communicate() has read from *proc*'s stdout and stderr so far."""
    exchange = proc._exchange
    if exchange is None:
        return None, None
    return exchange.so_far("stdout"), exchange.so_far("stderr")
