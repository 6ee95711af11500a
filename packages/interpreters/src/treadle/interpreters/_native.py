"""The one door to the runtime's sub-interpreters and the version differences.

The private modules are ``_interpreters`` and ``_interpqueues``.

Native interpreters are used on CPython 3.14, whose private API has the shape this module
speaks (``call`` taking any callable with arguments and returning ``(result, excinfo)``,
``_interpqueues.create(maxsize, unboundop, fallback)``). CPython 3.13 has the modules but
an older shape (``call`` of argument-less functions only, a ``fmt`` argument on queues):
there, and on 3.10-3.12, treadle.interpreters runs process-backed interpreters.

Errors raised by the private modules are turned into treadle's (``InterpreterError``,
``InterpreterNotFoundError``, ``NotShareableError``, ``QueueEmpty``, ``QueueFull``) here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, NoReturn

__all__ = [
    "AVAILABLE",
    "RUNTIME_ERRORS",
    "WHENCE_NAMES",
    "interp",
    "queues",
]

_interpreters: Any = None
_interpqueues: Any = None
if sys.version_info >= (3, 14):
    try:
        import _interpqueues
        import _interpreters
    except ImportError:  # built without sub-interpreters
        _interpreters = _interpqueues = None

AVAILABLE = _interpreters is not None

# The runtime's exception classes, by name: treadle's module uses them as its own.
RUNTIME_ERRORS: dict[str, Any] = {}
if AVAILABLE:
    RUNTIME_ERRORS = {
        "InterpreterError": _interpreters.InterpreterError,
        "InterpreterNotFoundError": _interpreters.InterpreterNotFoundError,
        "NotShareableError": _interpreters.NotShareableError,
        "QueueError": _interpqueues.QueueError,
        "QueueNotFoundError": _interpqueues.QueueNotFoundError,
    }

# whence codes (as 3.14 numbers them) -> the words Interpreter.whence reports
WHENCE_NAMES = {
    0: "unknown",
    1: "runtime init",
    2: "legacy C-API",
    3: "C-API",
    4: "cross-interpreter C-API",
    5: "_interpreters module",
}
WHENCE_STDLIB = 5


def _translated(exc: BaseException) -> BaseException:
    """Return the treadle exception for one raised by the private modules."""
    from ._errors import (  # noqa: PLC0415 - _errors derives from this module's bases
        InterpreterError,
        InterpreterNotFoundError,
        NotShareableError,
        QueueEmpty,
        QueueError,
        QueueFull,
        QueueNotFoundError,
    )

    if type(exc) in RUNTIME_ERRORS.values():
        return exc
    kind = type(exc).__name__
    text = str(exc)
    if kind == "InterpreterNotFoundError":
        return InterpreterNotFoundError(text)
    if kind == "InterpreterError":
        return InterpreterError(text)
    if kind == "NotShareableError":
        return NotShareableError(text)
    if kind == "QueueEmpty":
        return QueueEmpty(text)
    if kind == "QueueFull":
        return QueueFull(text)
    if kind == "QueueNotFoundError":
        return QueueNotFoundError(text)
    if kind == "QueueError":
        return QueueError(text)
    return exc


def _reraise(exc: Exception) -> NoReturn:
    """Raise treadle's exception for *exc* (the runtime's own classes as they are)."""
    new = _translated(exc)
    if new is exc:
        raise exc
    raise new from None


class _Interp:
    """Sub-interpreter operations on ids (3.14's ``_interpreters``)."""

    def create(self) -> int:
        try:
            return int(_interpreters.create(reqrefs=True))
        except Exception as exc:
            _reraise(exc)

    def destroy(self, iid: int) -> None:
        try:
            _interpreters.destroy(iid, restrict=True)
        except Exception as exc:
            _reraise(exc)

    def list_all(self) -> list[tuple[int, int]]:
        return [(int(i), w) for i, w in _interpreters.list_all(require_ready=True)]

    def current(self) -> tuple[int, int]:
        iid, whence = _interpreters.get_current()
        return int(iid), whence

    def whence(self, iid: int) -> int:
        try:
            return int(_interpreters.whence(iid))
        except Exception as exc:
            _reraise(exc)

    def incref(self, iid: int) -> None:
        try:
            _interpreters.incref(iid, implieslink=False)
        except Exception as exc:
            _reraise(exc)

    def decref(self, iid: int) -> None:
        try:
            _interpreters.decref(iid)
        except Exception:  # already gone: nothing to give back
            pass

    def is_running(self, iid: int) -> bool:
        try:
            return bool(_interpreters.is_running(iid))
        except Exception as exc:
            _reraise(exc)

    def set_main_attrs(self, iid: int, ns: dict[str, object]) -> None:
        try:
            _interpreters.set___main___attrs(iid, ns, restrict=True)
        except Exception as exc:
            _reraise(exc)

    def exec(self, iid: int, code: object) -> SimpleNamespace | None:
        try:
            return _interpreters.exec(iid, code, restrict=True)  # type: ignore[no-any-return]
        except Exception as exc:
            _reraise(exc)

    def call(
        self, iid: int, func: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[object, SimpleNamespace | None]:
        try:
            return _interpreters.call(iid, func, args, kwargs, restrict=True)  # type: ignore[no-any-return]
        except Exception as exc:
            _reraise(exc)

    def is_shareable(self, obj: object) -> bool:
        return bool(_interpreters.is_shareable(obj))


class _Queues:
    """Cross-interpreter queue operations on ids (3.14's ``_interpqueues``)."""

    def register(self, queue_type: type, empty: type, full: type) -> None:
        _interpqueues._register_heap_types(queue_type, empty, full)

    def create(self, maxsize: int, unboundop: int) -> int:
        try:
            return int(_interpqueues.create(maxsize, unboundop, -1))
        except Exception as exc:
            _reraise(exc)

    def list_all(self) -> list[tuple[int, int]]:
        return [(int(q), op) for q, op, _ in _interpqueues.list_all()]

    def bind(self, qid: int) -> None:
        try:
            _interpqueues.bind(qid)
        except Exception as exc:
            _reraise(exc)

    def release(self, qid: int) -> None:
        try:
            _interpqueues.release(qid)
        except Exception:  # already destroyed
            pass

    def put(self, qid: int, obj: object, unboundop: int) -> None:
        try:
            _interpqueues.put(qid, obj, unboundop)
        except Exception as exc:
            _reraise(exc)

    def get(self, qid: int) -> tuple[object, int | None]:
        try:
            return _interpqueues.get(qid)  # type: ignore[no-any-return]
        except Exception as exc:
            _reraise(exc)

    def count(self, qid: int) -> int:
        try:
            return int(_interpqueues.get_count(qid))
        except Exception as exc:
            _reraise(exc)

    def maxsize(self, qid: int) -> int:
        try:
            return int(_interpqueues.get_maxsize(qid))
        except Exception as exc:
            _reraise(exc)

    def is_full(self, qid: int) -> bool:
        try:
            return bool(_interpqueues.is_full(qid))
        except Exception as exc:
            _reraise(exc)

    def unboundop(self, qid: int) -> int:
        try:
            return int(_interpqueues.get_queue_defaults(qid)[0])
        except Exception as exc:
            _reraise(exc)


interp = _Interp()
queues = _Queues()
