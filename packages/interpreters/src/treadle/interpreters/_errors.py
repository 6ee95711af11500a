"""The exceptions of ``concurrent.interpreters`` (3.14), shared by every engine."""

from __future__ import annotations

from types import SimpleNamespace

from treadle.queue import Empty, Full

__all__ = [
    "ExecutionFailed",
    "InterpreterError",
    "InterpreterNotFoundError",
    "ItemInterpreterDestroyed",
    "NotShareableError",
    "QueueEmpty",
    "QueueError",
    "QueueFull",
    "make_excinfo",
]


class InterpreterError(Exception):
    """An interpreter could not do what was asked (closed while running, gone, ...)."""


class InterpreterNotFoundError(InterpreterError):
    """No interpreter has the given id (never existed, or closed)."""


class NotShareableError(TypeError):
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
        head = super().__str__()
        display = getattr(self.excinfo, "errdisplay", None)
        if display is None:
            return head
        return f"{head}\n\nUncaught in the interpreter:\n\n{display}"


class QueueError(RuntimeError):
    """A cross-interpreter queue operation failed."""


class QueueEmpty(QueueError, Empty):
    """``get_nowait()`` (or a timed ``get()``) found the queue empty."""


class QueueFull(QueueError, Full):
    """``put_nowait()`` (or a timed ``put()``) found the queue full."""


class ItemInterpreterDestroyed(QueueError):
    """The interpreter that put the item was closed (``unbounditems=UNBOUND_ERROR``)."""


def make_excinfo(  # noqa: PLR0917 - the six fields, in order
    name: str, qualname: str, module: str, msg: str, formatted: str,
                 errdisplay: str) -> SimpleNamespace:  # fmt: skip
    """Build an ``excinfo`` of the shape 3.14 gives ``ExecutionFailed``."""
    kind = SimpleNamespace(__name__=name, __qualname__=qualname, __module__=module)
    return SimpleNamespace(type=kind, msg=msg, formatted=formatted, errdisplay=errdisplay)
