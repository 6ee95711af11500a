"""Interpreter objects and the module functions of ``concurrent.interpreters`` (3.14).

Two engines stand behind :class:`Interpreter`: the runtime's sub-interpreters (CPython
3.13 and 3.14, ``_native``) and child processes (``_process``, every version). ``create()`` picks
native ones where they exist; ``create(backend="process")`` or the environment variable
``TREADLE_INTERPRETERS_BACKEND=process`` asks for process-backed ones.
"""

from __future__ import annotations

import atexit
import os
import types
import weakref
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from treadle import threading as _threading

from . import _native, _role
from ._errors import ExecutionFailed, InterpreterError, InterpreterNotFoundError, NotShareableError
from ._process import ProcessInterpreter
from ._queues import carries_queue, register_native_types
from ._shareable import check_shareable

__all__ = ["Interpreter", "create", "default_backend", "get_current", "get_main", "list_all"]

_T = TypeVar("_T")
BACKENDS = ("native", "process")
_ENV = "TREADLE_INTERPRETERS_BACKEND"

# Process-backed interpreters of this process. Their ids start far above the native ones,
# so that the two kinds never share an id.
_processes: dict[int, ProcessInterpreter] = {}
_lock = _threading.Lock()
_next_process_id = (1 << 20) if _native.AVAILABLE else 1
_known: weakref.WeakValueDictionary[int, Interpreter] = weakref.WeakValueDictionary()
_main_id = 0
# Run in a sub-interpreter before a treadle Queue crosses into it: the runtime rebuilds a
# queue from the Queue type that interpreter registered (else the stdlib's). No name is
# left in its __main__.
_LOAD_TREADLE = "__import__('treadle.interpreters._queues', fromlist=['_']).register_native_types()"


def default_backend() -> str:
    """Return the engine ``create()`` uses: ``"native"`` where it exists, else ``"process"``.

    Native sub-interpreters exist on CPython 3.13 and 3.14 (3.13's only where treadle's
    modules import in one). ``TREADLE_INTERPRETERS_BACKEND=process`` (or ``native``) in the
    environment chooses.
    """
    chosen = os.environ.get(_ENV, "").strip().lower()
    if chosen == "process" or not _native.AVAILABLE:
        return "process"
    if chosen == "native" or _native.treadle_loads():
        return "native"
    return "process"  # 3.13 whose sub-interpreters cannot load treadle (see _native)


def _check_backend(backend: object) -> str:
    if backend is None:
        return default_backend()
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS} or None, not {backend!r}")
    if backend == "native" and not _native.AVAILABLE:
        raise ValueError("backend='native' needs CPython 3.13 or later with sub-interpreters")
    return str(backend)


def create(*, backend: str | None = None) -> Interpreter:
    """Return a new, idle interpreter with a fresh ``__main__``.

    *backend* (beyond the stdlib): ``"native"`` or ``"process"``; None picks
    :func:`default_backend`.
    """
    global _next_process_id
    kind = _check_backend(backend)
    if kind == "native":
        iid = _native.interp.create()
        return Interpreter(iid, _whence=_native.WHENCE_STDLIB, _ownsref=True)
    with _lock:
        iid = _next_process_id
        _next_process_id += 1
    handle = ProcessInterpreter(iid)
    with _lock:
        _processes[iid] = handle
    return Interpreter(iid, _whence=_native.WHENCE_STDLIB, _ownsref=True)


def list_all() -> list[Interpreter]:
    """Return every interpreter that exists (the main one first)."""
    if _role.child_id is not None:
        return [get_main(), get_current()]
    if _native.AVAILABLE:
        found = []
        for iid, whence in _native.interp.list_all():
            try:
                found.append(Interpreter(iid, _whence=whence))
            except InterpreterNotFoundError:  # destroyed since it was listed (a collection)
                continue
    else:
        found = [get_main()]
    with _lock:
        ids = sorted(iid for iid, handle in _processes.items() if not handle.closed)
    found.extend(Interpreter(iid) for iid in ids)
    return found


def get_current() -> Interpreter:
    """Return the interpreter this code runs in."""
    if _role.child_id is not None:
        return Interpreter(_role.child_id, _whence=_native.WHENCE_STDLIB)
    if _native.AVAILABLE:
        iid, whence = _native.interp.current()
        return Interpreter(iid, _whence=whence)
    return get_main()


def get_main() -> Interpreter:
    """Return the main interpreter."""
    return Interpreter(_main_id, _whence=1)


_contains_queue = carries_queue


class Interpreter:
    """One interpreter, identified by ``id``.

    ``Interpreter(id)`` is the same object for the same id; make new ones with
    :func:`create`.
    """

    _id: int
    _whence: int
    _ownsref: bool
    _handle: ProcessInterpreter | None
    _treadle_loaded: bool
    _ours: bool

    def __new__(
        cls, id: int, /, _whence: int | None = None, _ownsref: bool | None = None
    ) -> Interpreter:
        """Return the object for the interpreter *id* (InterpreterNotFoundError if none)."""
        if not isinstance(id, int) or isinstance(id, bool):
            raise TypeError(f"id must be an int, got {id!r}")
        iid = int(id)
        # Whether the interpreter still exists is checked before the cache, as 3.14 does:
        # the object of a closed interpreter gives InterpreterNotFoundError too.
        handle = _processes.get(iid)
        ours = False  # the interpreter is this child process, or its parent
        if _role.child_id is not None and iid in (_role.child_id, _main_id):
            whence = _native.WHENCE_STDLIB if iid == _role.child_id else 1
            ours = True
        elif handle is not None:
            if handle.closed:
                raise InterpreterNotFoundError(f"unrecognized interpreter ID {iid}")
            whence = _native.WHENCE_STDLIB
        elif _native.AVAILABLE:
            whence = _native.interp.whence(iid) if _whence is None else _whence
        elif iid == _main_id:
            whence = 1
        else:
            raise InterpreterNotFoundError(f"unrecognized interpreter ID {iid}")
        self = _known.get(iid)
        if self is not None:
            return self
        owns = bool(_ownsref) if _ownsref is not None else whence == _native.WHENCE_STDLIB
        self = super().__new__(cls)
        self._id = iid
        self._whence = whence
        self._handle = handle
        self._ownsref = owns and handle is None and not ours and _native.AVAILABLE
        self._treadle_loaded = False
        self._ours = ours
        if self._ownsref:
            _native.interp.incref(iid)
        _known[iid] = self
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._id})"

    def __hash__(self) -> int:
        return hash(self._id)

    def __reduce__(self) -> tuple[Callable[..., Interpreter], tuple[int]]:
        return (type(self), (self._id,))

    def __del__(self) -> None:
        try:
            owns = self._ownsref
        except AttributeError:
            return
        if owns:
            _native.interp.decref(self._id)

    @property
    def id(self) -> int:
        """The interpreter's id (0 for the main one)."""
        return self._id

    @property
    def whence(self) -> str:
        """Who created the interpreter (``"_interpreters module"`` for create())."""
        return _native.WHENCE_NAMES.get(self._whence, "unknown")

    def is_running(self) -> bool:
        """Return True while code runs in the interpreter."""
        if self._handle is not None:
            return self._handle.is_running()
        if self._ours:  # in a child: itself (running this), or its parent (waiting on it)
            return True
        if _native.AVAILABLE:
            return _native.interp.is_running(self._id)
        return self._id == get_current().id

    def _owned(self, action: str) -> None:
        if self._ours or (self._handle is None and not _native.AVAILABLE):
            raise InterpreterError(f"cannot {action} in unrecognized interpreter {self._id}")

    def close(self) -> None:
        """Finalize and destroy the interpreter (InterpreterError while it runs)."""
        handle = self._handle
        if handle is not None:
            handle.close()
            with _lock:
                _processes.pop(self._id, None)
            return
        self._owned("close")
        _native.interp.destroy(self._id)

    def prepare_main(self, ns: Mapping[str, object] | None = None, /, **kwargs: object) -> None:
        """Bind the given (shareable) values as globals of the interpreter's ``__main__``."""
        values: dict[str, object] = dict(ns, **kwargs) if ns is not None else dict(kwargs)
        for key in values:
            if not isinstance(key, str):
                raise TypeError(f"expected str keys, got {key!r}")
        handle = self._handle
        if handle is not None:
            for item in values.values():
                check_shareable(item)
            handle.prepare_main(values)
            return
        self._owned("prepare __main__")
        if any(_contains_queue(v) for v in values.values()):
            self._load_treadle()
        _native.interp.set_main_attrs(self._id, values)

    def _load_treadle(self) -> None:
        # Only one Queue type rides native queues at a time: the stdlib's takes over when
        # concurrent.interpreters is imported later; take it back.
        register_native_types()
        # A treadle Queue that arrives in a sub-interpreter is rebuilt from the types that
        # interpreter registered: make sure they are treadle's.
        if not self._treadle_loaded:
            info = _native.interp.exec(self._id, _LOAD_TREADLE)
            if info is not None:
                raise ExecutionFailed(info)
            self._treadle_loaded = True

    def exec(self, code: str | types.FunctionType | types.CodeType, /) -> None:
        """Run source text (or a function's code) in the interpreter's ``__main__``.

        ExecutionFailed, with the exception's ``excinfo``, if it raises.
        """
        if isinstance(code, types.FunctionType):
            _check_script_function(code)
            script: object = code.__code__
        elif isinstance(code, (str, types.CodeType)):
            script = code
        else:
            raise TypeError(f"unsupported script {code!r}")
        handle = self._handle
        if handle is not None:
            info = handle.exec(script)
        else:
            self._owned("exec")
            info = _native.interp.exec(self._id, script)
        if info is not None:
            raise ExecutionFailed(info)

    def call(self, callable: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Call ``callable(*args, **kwargs)`` in the interpreter and return its result.

        ExecutionFailed if it raises. The callable and the values are shared where they
        are shareable, else pickled.
        """
        return self._call(callable, args, kwargs)

    def _call(self, func: Callable[..., _T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _T:
        handle = self._handle
        if handle is not None:
            result, info = handle.call(func, args, kwargs)
        else:
            self._owned("make a call")
            if any(_contains_queue(a) for a in args) or any(
                _contains_queue(v) for v in kwargs.values()
            ):
                self._load_treadle()
            result, info = _native.interp.call(self._id, func, args, kwargs)
        if info is not None:
            raise ExecutionFailed(info)
        return result  # type: ignore[return-value]

    def call_in_thread(
        self, callable: Callable[..., object], /, *args: Any, **kwargs: Any
    ) -> _threading.Thread:
        """Start a thread that makes the call; return the thread (the result is dropped)."""
        thread = _threading.Thread(target=self._call, args=(callable, args, kwargs))
        thread.start()
        return thread


def _check_script_function(func: types.FunctionType) -> None:
    code = func.__code__
    if code.co_argcount or code.co_kwonlyargcount or code.co_flags & 0x0C:
        raise ValueError(f"a function run by exec() takes no arguments, got {func!r}")
    if func.__closure__:
        raise ValueError(f"a function run by exec() may not be a closure, got {func!r}")


def _close_all() -> None:
    """At exit: end every process-backed interpreter still open."""
    with _lock:
        handles = list(_processes.values())
        _processes.clear()
    for handle in handles:
        try:
            handle.kill()
        except Exception:  # exit goes on
            pass


atexit.register(_close_all)
_ = NotShareableError
