"""The exceptions of ``concurrent.interpreters`` (3.14), shared by every engine."""

from __future__ import annotations

from types import SimpleNamespace

from treadle.queue import Empty, Full

from ._native import RUNTIME_ERRORS

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


class _InterpreterError(Exception):
    """An interpreter could not do what was asked (closed while running, gone, ...)."""


class _InterpreterNotFoundError(_InterpreterError):
    """No interpreter has the given id (never existed, or closed)."""


class _NotShareableError(TypeError):
    """The object cannot be passed between interpreters."""


class _QueueError(RuntimeError):
    """A cross-interpreter queue operation failed."""


class _QueueNotFoundError(_QueueError):
    """No queue has the given id (never created, or destroyed)."""


# Where the runtime has sub-interpreters, its exception classes are the ones (as the
# stdlib's module aliases them): what the runtime raises is what callers catch.
InterpreterError: type[Exception] = RUNTIME_ERRORS.get("InterpreterError", _InterpreterError)
InterpreterNotFoundError: type[Exception] = RUNTIME_ERRORS.get(
    "InterpreterNotFoundError", _InterpreterNotFoundError
)
NotShareableError: type[TypeError] = RUNTIME_ERRORS.get("NotShareableError", _NotShareableError)
QueueError: type[RuntimeError] = RUNTIME_ERRORS.get("QueueError", _QueueError)
QueueNotFoundError: type[RuntimeError] = RUNTIME_ERRORS.get(
    "QueueNotFoundError", _QueueNotFoundError
)


class ExecutionFailed(InterpreterError):  # type: ignore[valid-type,misc]
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


class QueueEmpty(QueueError, Empty):  # type: ignore[valid-type,misc]
    """``get_nowait()`` (or a timed ``get()``) found the queue empty."""


class QueueFull(QueueError, Full):  # type: ignore[valid-type,misc]
    """``put_nowait()`` (or a timed ``put()``) found the queue full."""


class UnboundItemError(Exception):
    """An item's interpreter was closed before the item was taken (any container)."""


class ItemInterpreterDestroyed(QueueError, UnboundItemError):  # type: ignore[valid-type,misc]
    """The interpreter that put the item was closed (``unbounditems=UNBOUND_ERROR``)."""


def make_excinfo(  # noqa: PLR0917 - the six fields, in order
    name: str, qualname: str, module: str, msg: str, formatted: str,
                 errdisplay: str) -> SimpleNamespace:  # fmt: skip
    """Build an ``excinfo`` of the shape 3.14 gives ``ExecutionFailed``."""
    kind = SimpleNamespace(__name__=name, __qualname__=qualname, __module__=module)
    return SimpleNamespace(type=kind, msg=msg, formatted=formatted, errdisplay=errdisplay)
