"""The exceptions of ``concurrent.interpreters`` (3.14), shared by every engine."""

from __future__ import annotations

from types import SimpleNamespace

from treadle.queue import Empty, Full

from ._native import (
    BASE_INTERPRETER_ERROR,
    BASE_NOT_FOUND,
    BASE_NOT_SHAREABLE,
    BASE_QUEUE_ERROR,
    BASE_QUEUE_NOT_FOUND,
)

__all__ = [
    "ExecutionFailed",
    "InterpreterError",
    "InterpreterNotFoundError",
    "ItemInterpreterDestroyed",
    "NotShareableError",
    "QueueEmpty",
    "QueueError",
    "QueueFull",
    "QueueNotFoundError",
    "UnboundItemError",
    "make_excinfo",
]


class InterpreterError(BASE_INTERPRETER_ERROR):  # type: ignore[valid-type,misc]
    """An interpreter could not do what was asked (closed while running, gone, ...)."""


class InterpreterNotFoundError(InterpreterError, *BASE_NOT_FOUND):  # type: ignore[misc]
    """No interpreter has the given id (never existed, or closed)."""


class NotShareableError(*BASE_NOT_SHAREABLE, TypeError):  # type: ignore[misc]
    """The object cannot be passed between interpreters."""


class ExecutionFailed(InterpreterError):
    """An exception escaped ``Interpreter.exec()`` or ``Interpreter.call()``.

    The exception itself stayed in the other interpreter: ``excinfo`` describes it
    (``type`` with ``__name__``/``__qualname__``/``__module__``, ``msg``, ``formatted``
    (the last line) and ``errdisplay`` (the traceback as printed)).
    """

    def __init__(self, excinfo: SimpleNamespace) -> None:
        """Keep *excinfo*; the message is its one-line form."""
        summary = getattr(excinfo, "formatted", None)
        if not summary:
            kind = getattr(getattr(excinfo, "type", None), "__name__", "") or ""
            text = getattr(excinfo, "msg", "") or ""
            summary = f"{kind}: {text}" if kind and text else (kind or text)
        super().__init__(summary)
        self.excinfo = excinfo

    def __str__(self) -> str:
        """Return the one-line summary followed by the traceback printed in the interpreter."""
        head: str = super().__str__()
        display = getattr(self.excinfo, "errdisplay", None)
        if display is None:
            return head
        return f"{head}\n\nUncaught in the interpreter:\n\n{display}"


class QueueError(*BASE_QUEUE_ERROR, RuntimeError):  # type: ignore[misc]
    """A cross-interpreter queue operation failed."""


class QueueEmpty(QueueError, Empty):
    """``get_nowait()`` (or a timed ``get()``) found the queue empty."""


class QueueFull(QueueError, Full):
    """``put_nowait()`` (or a timed ``put()``) found the queue full."""


class QueueNotFoundError(QueueError, *BASE_QUEUE_NOT_FOUND):  # type: ignore[misc]
    """No queue has the given id (never created, or destroyed)."""


class UnboundItemError(Exception):
    """An item's interpreter was closed before the item was taken (any container)."""


class ItemInterpreterDestroyed(QueueError, UnboundItemError):
    """The interpreter that put the item was closed (``unbounditems=UNBOUND_ERROR``)."""


def make_excinfo(  # noqa: PLR0917 - the six fields, in order
    name: str, qualname: str, module: str, msg: str, formatted: str,
                 errdisplay: str) -> SimpleNamespace:  # fmt: skip
    """Build an ``excinfo`` of the shape 3.14 gives ``ExecutionFailed``."""
    kind = SimpleNamespace(__name__=name, __qualname__=qualname, __module__=module)
    return SimpleNamespace(type=kind, msg=msg, formatted=formatted, errdisplay=errdisplay)
