"""The start-up and command loop of a process-backed interpreter (runs in the child).

The parent starts ``python -I -S -c <boot>`` with two pipe ends; the child gets a fresh,
empty ``__main__`` and serves commands (``prep``, ``exec``, ``call``, ``close``) one at
a time, answering each with ``done``. Queue operations are requests to the parent
(``q``), answered by ``qr``. One thread reads the pipe and sorts what arrives: commands
for the main thread, answers for the thread that asked.

The stdlib's threading and queue are used here rather than treadle's: the child's
start-up stays small (starting an interpreter costs what starting Python costs) and
nothing here outlives the process.
"""

from __future__ import annotations

import builtins
import gc
import marshal
import pickle
import queue
import sys
import threading
import traceback
import types
from typing import Any

from . import _role, _wire

__all__ = ["excinfo_of", "main"]


class _Link:
    """The child's end of the pipes to its parent."""

    def __init__(self, rfd: int, wfd: int) -> None:
        self.rfd = rfd
        self.closed = False
        self.wfd = wfd
        self.write_lock = threading.Lock()
        self.request_lock = threading.Lock()
        self.commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.answers: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def send(self, tag: int, message: object) -> None:
        with self.write_lock:
            _wire.send(self.wfd, tag, message)

    def read_forever(self) -> None:
        gone = pickle.dumps((False, ("InterpreterError", "the parent went away")))
        while True:
            try:
                tag, body = _wire.recv(self.rfd)
            except (EOFError, OSError):
                self.commands.put(None)
                self.answers.put(gone)
                return
            if tag == _wire.ANSWER:
                self.answers.put(body)
            else:
                self.commands.put(body)

    def request(self, *message: object) -> Any:
        """Ask the parent; return its answer or raise the error it sent."""
        if self.closed:
            raise _error_class("InterpreterError")("the interpreter is closing")
        with self.request_lock:
            self.send(_wire.REQUEST, message)
            body = self.answers.get()
        # Unpickled here, in the asking thread: a Queue in it binds through the parent.
        ok, value = pickle.loads(body)
        if ok:
            return value
        kind, text = value
        raise _error_class(kind)(text)


def _error_class(kind: str) -> type[BaseException]:
    from . import _errors  # noqa: PLC0415 - only when an error comes back

    found = getattr(_errors, kind, None)
    if isinstance(found, type) and issubclass(found, BaseException):
        return found
    return getattr(builtins, kind, RuntimeError)


class ChildStore:
    """Queue operations of a process-backed interpreter: run by its parent."""

    def __init__(self, link: _Link) -> None:
        self._link = link

    def create(self, maxsize: int, op: int) -> int:
        return int(self._link.request("create", maxsize, op))

    def list_all(self) -> list[tuple[int, int]]:
        return list(self._link.request("list_all"))

    def bind(self, qid: int) -> None:
        self._link.request("bind", qid)

    def release(self, qid: int) -> None:
        try:
            self._link.request("release", qid)
        except Exception:  # the parent is gone or the queue already is
            pass

    def put(self, qid: int, obj: object, op: int, owner: int = 0) -> None:
        try:
            self._link.request("put", qid, obj, op)
        except pickle.PicklingError as exc:
            raise _error_class("NotShareableError")(
                f"{obj!r} does not support cross-interpreter data"
            ) from exc

    def get(self, qid: int) -> tuple[object, int | None]:
        obj, op = self._link.request("get", qid)
        return obj, op

    def count(self, qid: int) -> int:
        return int(self._link.request("count", qid))

    def maxsize(self, qid: int) -> int:
        return int(self._link.request("maxsize", qid))

    def is_full(self, qid: int) -> bool:
        return bool(self._link.request("is_full", qid))

    def unboundop(self, qid: int) -> int:
        return int(self._link.request("unboundop", qid))

    def unbind_owner(self, owner: int) -> None:
        """Only the main process tracks owners."""


def excinfo_of(exc: BaseException) -> tuple[str, str, str, str, str, str]:
    """Return the fields of 3.14's excinfo for *exc*, this module's frames left out."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    kind = type(exc)
    try:
        last = traceback.format_exception_only(kind, exc)[-1].rstrip("\n")
        display = "".join(traceback.format_exception(kind, exc, tb)).rstrip("\n")
        text = str(exc)
    except Exception:  # a broken __str__: name the type at least
        last = display = text = kind.__name__
    return (kind.__name__, kind.__qualname__, kind.__module__, text, last, display)


def _run_exec(ns: dict[str, Any], code: Any) -> None:
    exec(code, ns)


def _run_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], ns: dict[str, Any]) -> Any:
    if (func is exec or func is eval) and len(args) == 1 and not kwargs:
        # Called from C in a sub-interpreter, exec()/eval() run in its __main__: the same here.
        args = (args[0], ns)
    return func(*args, **kwargs)


def _serve(link: _Link, ns: dict[str, Any]) -> None:
    while True:
        body = link.commands.get()
        if body is None:
            return
        outcome: tuple[Any, ...]
        try:
            message = pickle.loads(body)
            kind = message[0]
            if kind == "close":
                return
            if kind == "prep":
                ns.update(message[1])
                outcome = ("done", None, None)
            elif kind == "exec":
                code = message[1]
                if isinstance(code, bytes):
                    code = marshal.loads(code)
                else:
                    code = compile(code, "<script>", "exec")
                _run_exec(ns, code)
                outcome = ("done", None, None)
            elif kind == "callcode":
                _, raw, name, defaults, kwdefaults, args, kwargs = message
                func = types.FunctionType(marshal.loads(raw), ns, name, defaults)
                func.__kwdefaults__ = kwdefaults
                outcome = ("done", _run_call(func, args, kwargs, ns), None)
            else:  # "call"
                func, args, kwargs = pickle.loads(message[1])
                outcome = ("done", _run_call(func, args, kwargs, ns), None)
        except BaseException as exc:
            outcome = ("done", None, excinfo_of(exc))
        _flush()
        try:
            link.send(_wire.DONE, outcome)
        except Exception as exc:  # the result would not pickle
            link.send(_wire.DONE, ("done", None, excinfo_of(exc)))


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # closed or replaced by the user's code
            pass


def main(rfd: int, wfd: int, iid: int) -> None:
    """Serve the parent until it says ``close`` or goes away."""
    link = _Link(rfd, wfd)
    _role.child_id = iid
    _role.parent_link = link
    _role.child_store = ChildStore(link)
    from . import _queues  # noqa: PLC0415 - after the role is known

    _queues.set_store(_role.child_store)
    fresh = types.ModuleType("__main__")
    fresh.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = fresh
    reader = threading.Thread(target=link.read_forever, name="treadle-interp-link", daemon=True)
    reader.start()
    link.send(_wire.READY, ("ready",))
    try:
        _serve(link, fresh.__dict__)
    finally:
        # Let go of this interpreter's queues while the parent still answers; after this
        # (during finalization the reader thread is frozen) queue operations fail at once.
        fresh.__dict__.clear()
        gc.collect()
        link.closed = True
        _flush()
