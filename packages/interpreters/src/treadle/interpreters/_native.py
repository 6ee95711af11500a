"""The one door to the runtime's sub-interpreters and the version differences.

The private modules are ``_interpreters`` and ``_interpqueues``.

Native interpreters are used on CPython 3.13 and 3.14 (3.10-3.12 have no such modules:
treadle.interpreters runs process-backed interpreters there). This module speaks 3.14's
shape to the rest of the package (``call`` taking any callable with arguments and returning
``(result, excinfo)``; queues that send what is not shareable as a pickle) and adapts
3.13's older one here:

* 3.13's ``_interpreters.call`` runs argument-less functions only and returns no result.
  A call is made instead by ``exec`` of a one-line script in the interpreter: it takes the
  pickled ``(callable, args, kwargs)`` (a ``__main__`` function or lambda as its code, as
  3.14 sends those) from a private native queue of that interpreter, calls it in the
  interpreter's ``__main__``, and puts the result (shared, or pickled) on a second private
  queue, or, if the callable raised, the exception's ``excinfo`` (made by the runtime's
  ``capture_exception``, without the helper's frames, as 3.14's call reports it).
* 3.13's queues take a ``fmt`` (0: shared, 1: pickled, this module's convention) and no
  "fallback": ``put`` pickles an object the runtime refuses to share and ``get`` unpickles
  it; ``-1`` (the queue's default unbound op) is resolved here.
* ``list_all()`` has no ``require_ready``; the private call queues are left out of the
  queue listing.

Errors raised by the private modules are turned into treadle's (``InterpreterError``,
``InterpreterNotFoundError``, ``NotShareableError``, ``QueueEmpty``, ``QueueFull``) here.
"""

from __future__ import annotations

import atexit
import marshal
import pickle
import sys
import threading
import types
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any, NoReturn

__all__ = [
    "AVAILABLE",
    "RUNTIME_ERRORS",
    "WHENCE_NAMES",
    "interp",
    "queues",
    "run_call",
    "treadle_loads",
]

_interpreters: Any = None
_interpqueues: Any = None
# 3.13's private API (see the module docstring); 3.14's otherwise.
_OLD_API = sys.version_info < (3, 14)
if sys.version_info >= (3, 13):
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
    if _OLD_API:
        # 3.13's NotShareableError is a ValueError; 3.14's (and treadle's) a TypeError:
        # treadle's own class is used there, and the runtime's translated to it.
        del RUNTIME_ERRORS["NotShareableError"]

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


# 3.13's queue formats (this module's convention): the item as shared, or its pickle.
_FMT_SHARED = 0
_FMT_PICKLED = 1
_FMT_FAILED = 2  # a call's excinfo, pickled (the private call queues only)
_UNBOUND_DEFAULT = 3  # UNBOUND, for the private call queues (their items never go unbound)


def _call_payload(
    func: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> bytes:
    """Pickle a call for 3.13: by reference, or a ``__main__`` function by its code.

    A function of the calling ``__main__`` (or one that does not pickle) cannot be found by
    name in the other interpreter's fresh ``__main__``: 3.14 sends its code, and so does
    this (no closure allowed, as there).
    """
    from ._shareable import is_stateless  # noqa: PLC0415 - _shareable imports this module

    # A stateless function goes as its code, as 3.14 sends it (its module need not be
    # importable there); others by reference, and __main__'s as code again.
    if not is_stateless(func) and not (
        isinstance(func, types.FunctionType) and func.__module__ == "__main__"
    ):
        try:
            return pickle.dumps(("call", func, args, kwargs), pickle.HIGHEST_PROTOCOL)
        except Exception:  # not picklable by reference: try its code below
            pass
    from ._errors import NotShareableError  # noqa: PLC0415 - same

    if not isinstance(func, types.FunctionType) or func.__closure__:
        raise NotShareableError(f"{func!r} does not support cross-interpreter data")
    code = marshal.dumps(func.__code__)
    message = ("callcode", code, func.__name__, func.__defaults__, func.__kwdefaults__)
    try:
        return pickle.dumps((*message, args, kwargs), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise NotShareableError(f"{args!r} does not support cross-interpreter data") from exc


def run_call(inbox: int, outbox: int) -> None:
    """Make one queued call in this (sub-)interpreter and queue its result (3.13).

    Runs in the called interpreter, from the script ``_Interp.call`` execs there; an
    exception from the callable propagates, to be reported by ``exec``.
    """
    raw, _, _ = _interpqueues.get(inbox)
    message = pickle.loads(raw)
    ns = sys.modules["__main__"].__dict__
    if message[0] == "callcode":
        _, code, name, defaults, kwdefaults, args, kwargs = message
        func = types.FunctionType(marshal.loads(code), ns, name, defaults)
        func.__kwdefaults__ = kwdefaults
    else:
        _, func, args, kwargs = message
    if (func is exec or func is eval) and len(args) == 1 and not kwargs:
        # Called from C, exec()/eval() run in the interpreter's __main__ (as 3.14's call).
        args = (args[0], ns)
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:  # every failure is reported, as exec reports it
        # Described here, without this frame, as 3.14's call describes it (a traceback of
        # the callable's own frames); the description crosses as a pickle.
        if exc.__traceback__ is not None:
            exc.__traceback__ = exc.__traceback__.tb_next
        info = _interpreters.capture_exception(exc)
        data = pickle.dumps(info, pickle.HIGHEST_PROTOCOL)
        _interpqueues.put(outbox, data, _FMT_FAILED, _UNBOUND_DEFAULT)
        return
    try:
        _interpqueues.put(outbox, result, _FMT_SHARED, _UNBOUND_DEFAULT)
    except Exception:  # not shareable: send its pickle (a PicklingError fails the call)
        data = pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
        _interpqueues.put(outbox, data, _FMT_PICKLED, _UNBOUND_DEFAULT)


class _CallQueues:
    """The two private queues 3.13's calls into one interpreter travel on."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # one call at a time: the queues carry one each way
        self.inbox = int(_interpqueues.create(0, _FMT_SHARED, _UNBOUND_DEFAULT))
        self.outbox = int(_interpqueues.create(0, _FMT_SHARED, _UNBOUND_DEFAULT))
        self.script = compile(  # once: exec of a code object skips the compiler
            "__import__('treadle.interpreters._native', fromlist=['run_call'])"
            f".run_call({self.inbox}, {self.outbox})",
            "<string>",
            "exec",
        )

    def drain(self) -> None:
        for qid in (self.inbox, self.outbox):
            try:
                while True:
                    _interpqueues.get(qid)
            except Exception:  # empty: done
                pass

    def destroy(self) -> None:
        for qid in (self.inbox, self.outbox):
            try:
                _interpqueues.destroy(qid)
            except Exception:  # already gone
                pass


_call_queues: dict[int, _CallQueues] = {}
_call_queues_lock = threading.Lock()
_private_qids: set[int] = set()


def _queues_for(iid: int) -> _CallQueues:
    with _call_queues_lock:
        found = _call_queues.get(iid)
        if found is None:
            found = _call_queues[iid] = _CallQueues()
            _private_qids.update((found.inbox, found.outbox))
        return found


def _forget_queues(iid: int) -> None:
    with _call_queues_lock:
        found = _call_queues.pop(iid, None)
        if found is not None:
            _private_qids.difference_update((found.inbox, found.outbox))
    if found is not None:
        found.destroy()


def _forget_all_queues() -> None:
    for iid in list(_call_queues):
        _forget_queues(iid)


class _Interp:
    """Sub-interpreter operations on ids (3.14's ``_interpreters``, 3.13's adapted)."""

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
        if _OLD_API:
            _forget_queues(iid)

    def list_all(self) -> list[tuple[int, int]]:
        if _OLD_API:
            return [(int(i), w) for i, w in _interpreters.list_all()]
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
        if _OLD_API:
            return self._call_old(iid, func, args, kwargs)
        try:
            return _interpreters.call(iid, func, args, kwargs, restrict=True)  # type: ignore[no-any-return]
        except Exception as exc:
            _reraise(exc)

    def _call_old(
        self, iid: int, func: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[object, SimpleNamespace | None]:
        payload = _call_payload(func, args, kwargs)
        self.whence(iid)  # InterpreterNotFoundError before any queue is made for it
        boxes = _queues_for(iid)
        if not boxes.lock.acquire(blocking=False):
            _reraise(RUNTIME_ERRORS["InterpreterError"]("interpreter already running"))
        try:
            _interpqueues.put(boxes.inbox, payload, _FMT_SHARED, _UNBOUND_DEFAULT)
            try:
                info = _interpreters.exec(iid, boxes.script, restrict=True)
            except Exception as exc:
                _reraise(exc)
            if info is not None:
                return None, info
            obj, fmt, _ = _interpqueues.get(boxes.outbox)
            if fmt == _FMT_FAILED:
                return None, pickle.loads(obj)
            return (pickle.loads(obj) if fmt == _FMT_PICKLED else obj), None
        finally:
            boxes.drain()  # what a failed exec left behind must not reach the next call
            boxes.lock.release()

    def is_shareable(self, obj: object) -> bool:
        return bool(_interpreters.is_shareable(obj))


class _Queues:
    """Cross-interpreter queue operations on ids (3.14's ``_interpqueues``)."""

    def register(self, queue_type: type, empty: type, full: type) -> None:
        _interpqueues._register_heap_types(queue_type, empty, full)

    def create(self, maxsize: int, unboundop: int) -> int:
        try:
            if _OLD_API:
                return int(_interpqueues.create(maxsize, _FMT_SHARED, unboundop))
            return int(_interpqueues.create(maxsize, unboundop, -1))
        except Exception as exc:
            _reraise(exc)

    def list_all(self) -> list[tuple[int, int]]:
        if _OLD_API:  # (qid, fmt, unboundop), the private call queues left out
            found = _interpqueues.list_all()
            return [(int(q), op) for q, _, op in found if int(q) not in _private_qids]
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
        if _OLD_API:
            self._put_old(qid, obj, unboundop)
            return
        try:
            _interpqueues.put(qid, obj, unboundop)
        except Exception as exc:
            _reraise(exc)

    def _put_old(self, qid: int, obj: object, unboundop: int) -> None:
        try:
            if unboundop < 0:
                unboundop = int(_interpqueues.get_queue_defaults(qid)[1])
            try:
                _interpqueues.put(qid, obj, _FMT_SHARED, unboundop)
                return
            except Exception as exc:
                if type(exc).__name__ != "NotShareableError":
                    raise
                refused = exc
            # 3.14 sends what is not shareable as a pickle: the receiver gets a copy.
            try:
                data = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
            except Exception:
                raise refused from None
            _interpqueues.put(qid, data, _FMT_PICKLED, unboundop)
        except Exception as exc:
            _reraise(exc)

    def get(self, qid: int) -> tuple[object, int | None]:
        try:
            if _OLD_API:
                obj, fmt, unboundop = _interpqueues.get(qid)
                if unboundop is not None:
                    return None, int(unboundop)
                return (pickle.loads(obj) if fmt == _FMT_PICKLED else obj), None
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
            return int(_interpqueues.get_queue_defaults(qid)[1 if _OLD_API else 0])
        except Exception as exc:
            _reraise(exc)


_loads: bool | None = None


def treadle_loads() -> bool:
    """Return True if treadle.interpreters imports in a sub-interpreter of this runtime.

    Calls and queues that cross need it there. On 3.13 it is probed once, in a fresh
    sub-interpreter: treadle.contextvars reads ``_contextvars.Token.MISSING``, which a
    3.13 sub-interpreter lacks (a runtime bug: the attribute is only set on the main
    interpreter's copy of the static type) until treadle.contextvars finds it another way;
    ``create()`` picks process-backed interpreters while the probe fails.
    """
    global _loads
    if not AVAILABLE:
        return False
    if not _OLD_API:
        return True
    if _loads is None:
        iid = _interpreters.create()
        try:
            _loads = _interpreters.exec(iid, "import treadle.interpreters") is None
        finally:
            _interpreters.destroy(iid)
    return _loads


interp = _Interp()
queues = _Queues()
if AVAILABLE and _OLD_API:
    atexit.register(_forget_all_queues)
