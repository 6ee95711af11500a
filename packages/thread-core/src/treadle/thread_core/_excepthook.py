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

from ._native import get_ident

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


def excepthook(args: Any, /) -> None:
    """Print an uncaught thread exception to ``sys.stderr`` (nothing for SystemExit)."""
    if args.exc_type is SystemExit:
        return
    stderr = sys.stderr
    thread = args.thread
    if stderr is None and thread is not None:
        # The stdlib keeps the thread's original stderr for this case.
        stderr = getattr(thread, "_stderr", None)
    if stderr is None:
        return
    name: object = None
    if thread is not None:
        name = getattr(thread, "name", None)
    if name is None:
        name = get_ident()
    import traceback  # noqa: PLC0415  (only when something went wrong)

    print(f"Exception in thread {name}:", file=stderr, flush=True)
    traceback.print_exception(args.exc_type, args.exc_value, args.exc_traceback, file=stderr)
    stderr.flush()


excepthook.__name__ = excepthook.__qualname__ = "_excepthook"
excepthook.__module__ = "treadle.thread_core"
