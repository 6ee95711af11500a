"""The excepthook pair: ``_ExceptHookArgs`` and ``_excepthook``.

``threading.excepthook`` receives one ``_ExceptHookArgs`` (a 4-field named tuple:
``exc_type``, ``exc_value``, ``exc_traceback``, ``thread``) and, by default, prints
``Exception in thread <name>:`` and the traceback to ``sys.stderr``, staying silent
for :exc:`SystemExit`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from ._native import birth_stderr, get_ident

__all__ = ["ExceptHookArgs", "excepthook"]


class ExceptHookArgs(tuple[Any, ...]):
    """What ``threading.excepthook`` receives about an uncaught exception."""

    __slots__ = ()
    n_fields = 4
    n_sequence_fields = 4
    n_unnamed_fields = 0

    def __new__(cls, sequence: Iterable[Any], /) -> ExceptHookArgs:
        items = tuple(sequence)
        if len(items) != 4:
            raise TypeError(f"_ExceptHookArgs() takes a 4-sequence ({len(items)}-sequence given)")
        return super().__new__(cls, items)

    @property
    def exc_type(self) -> type[BaseException] | None:
        """The exception's type."""
        return self[0]  # type: ignore[no-any-return]

    @property
    def exc_value(self) -> BaseException | None:
        """The exception, or None."""
        return self[1]  # type: ignore[no-any-return]

    @property
    def exc_traceback(self) -> TracebackType | None:
        """The exception's traceback, or None."""
        return self[2]  # type: ignore[no-any-return]

    @property
    def thread(self) -> Any:
        """The thread that raised it, or None."""
        return self[3]

    def __repr__(self) -> str:
        return (
            f"_ExceptHookArgs(exc_type={self[0]!r}, exc_value={self[1]!r}, "
            f"exc_traceback={self[2]!r}, thread={self[3]!r})"
        )

    def __reduce__(self) -> Any:
        return (type(self), (tuple(self),))


ExceptHookArgs.__name__ = ExceptHookArgs.__qualname__ = "_ExceptHookArgs"
ExceptHookArgs.__module__ = "treadle.thread_core"


def _stream_for(thread: object) -> Any:
    """Where a report goes: ``sys.stderr``, else the stream the thread was born with.

    A stdlib thread keeps the ``sys.stderr`` of its creation, for programs that drop
    ``sys.stderr`` (set it to None) while threads still run.
    """
    current = sys.stderr
    if current is not None:
        return current
    return birth_stderr(thread)


def _label(thread: object) -> object:
    """How a report names the thread: its name, else the reporting thread's ident."""
    name = getattr(thread, "name", None)
    return get_ident() if name is None else name


def excepthook(args: Any, /) -> None:
    """Print an uncaught thread exception to ``sys.stderr`` (nothing for SystemExit).

    A header naming the thread, then the traceback; nothing at all if there is no
    stream to write to.
    """
    kind = args.exc_type
    if kind is SystemExit:
        return
    thread = args.thread
    stream = _stream_for(thread)
    if stream is None:
        return
    import traceback  # noqa: PLC0415  (only when something went wrong)

    stream.write(f"Exception in thread {_label(thread)}:\n")
    stream.flush()
    traceback.print_exception(kind, args.exc_value, args.exc_traceback, file=stream)
    stream.flush()


excepthook.__name__ = excepthook.__qualname__ = "_excepthook"
excepthook.__module__ = "treadle.thread_core"
