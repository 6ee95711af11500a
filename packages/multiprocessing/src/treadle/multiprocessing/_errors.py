"""The exceptions of ``multiprocessing``, shared by every part of the package."""

from __future__ import annotations

__all__ = ["AuthenticationError", "BufferTooShort", "ProcessError", "TimeoutError"]


class ProcessError(Exception):
    """Base class of the errors this package raises."""


class BufferTooShort(ProcessError):
    """``recv_bytes_into`` got a message longer than the buffer.

    ``args[0]`` is the whole message, as bytes.
    """


class TimeoutError(ProcessError):  # the stdlib's name: shadows the builtin on purpose
    """A call with a timeout ran out of time."""


class AuthenticationError(ProcessError):
    """The HMAC challenge between two ends of a connection failed."""
