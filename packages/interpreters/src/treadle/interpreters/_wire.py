"""Messages between a process-backed interpreter and its parent.

A frame is a 4-byte big-endian length, a one-byte tag, then a pickle. The tag lets a
reader route a message without unpickling it (unpickling may need the other end: a
Queue binds itself through the parent). Kept small: a child imports it at start-up.
"""

from __future__ import annotations

import os
import pickle

__all__ = ["ANSWER", "COMMAND", "DONE", "READY", "REQUEST", "recv", "send"]

COMMAND = 0x63  # parent -> child: prep, exec, call, callcode, close
ANSWER = 0x61  # parent -> child: the answer to a queue request
REQUEST = 0x71  # child -> parent: a queue request
DONE = 0x64  # child -> parent: the outcome of a command
READY = 0x72  # child -> parent: started

_HEADER = 5


def send(fd: int, tag: int, message: object) -> None:
    """Write *message* (pickled, framed, tagged) to *fd*; pickling fails before writing."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    data = memoryview(len(body).to_bytes(4, "big") + bytes((tag,)) + body)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 16))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def recv(fd: int) -> tuple[int, bytes]:
    """Read one frame from *fd*: ``(tag, pickle)``; EOFError once the other end is gone."""
    header = _read_exact(fd, _HEADER)
    if header is None:
        raise EOFError("the other end closed the pipe")
    body = _read_exact(fd, int.from_bytes(header[:4], "big"))
    if body is None:
        raise EOFError("the other end closed the pipe mid-message")
    return header[4], body
