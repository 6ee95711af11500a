"""Process-backed interpreters: each one is a child Python reached over two pipes.

The child (``_child``) runs ``python -I -S`` with the parent's ``sys.path``, a fresh
``__main__``, and serves one command at a time. In the parent a thread per child reads
what the child sends: the ``done`` of the command in flight goes to the caller waiting
for it, and queue requests are run here against this process's queue store, so queues
work between the main interpreter and every child.

Starting one costs what starting a small Python process costs (tens of milliseconds,
against about a millisecond for a native sub-interpreter): keep them warm (the
interpreter pool does).
"""

from __future__ import annotations

import marshal
import os
import pickle
import subprocess
import sys
import types
from typing import Any

from treadle import queue as _queue
from treadle import threading as _threading

from . import _queues, _wire
from ._errors import InterpreterError, InterpreterNotFoundError, NotShareableError, make_excinfo
from ._shareable import is_stateless

__all__ = ["ProcessInterpreter"]

_BOOT = (
    "import sys;sys.path[:0]={path!r};"
    "from treadle.interpreters._child import main;main({rfd},{wfd},{iid})"
)


class ProcessInterpreter:
    """The parent's handle on one process-backed interpreter."""

    def __init__(self, iid: int) -> None:
        self.iid = iid
        self.closed = False
        self.dead_reason: str | None = None
        self._busy = _threading.Lock()
        self._write_lock = _threading.Lock()
        self._answers: _queue.SimpleQueue[Any] = _queue.SimpleQueue()
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        path = [p for p in sys.path if p]
        boot = _BOOT.format(path=path, rfd=to_child_r, wfd=from_child_w, iid=iid)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", boot],
                pass_fds=(to_child_r, from_child_w),
                close_fds=True,
            )
        except BaseException:
            for fd in (to_child_r, from_child_w, self._to_child, self._from_child):
                os.close(fd)
            raise
        finally:
            if hasattr(self, "_proc"):
                os.close(to_child_r)
                os.close(from_child_w)
        self._reader = _threading.Thread(
            target=self._read_forever, name=f"treadle-interp-{iid}", daemon=True
        )
        self._reader.start()
        ready = self._answers.get()
        if ready[0] != "ready":
            self._reap()
            raise InterpreterError(f"interpreter {iid} failed to start: {ready[1]}")

    # --- the reader thread ---------------------------------------------------------

    def _read_forever(self) -> None:
        fd = self._from_child
        while True:
            try:
                tag, raw = _wire.recv(fd)
            except (EOFError, OSError):
                self.dead_reason = "its process ended"
                self._answers.put(("dead", "its process ended"))
                return
            try:
                message: Any = pickle.loads(raw)
            except Exception as exc:  # a result that cannot be rebuilt here
                self._answers.put(("done", None, _local_excinfo(exc)))
                continue
            if tag == _wire.REQUEST:
                self._serve_queue(message[0], message[1:])
            else:
                self._answers.put(message)

    def _serve_queue(self, op: str, args: tuple[Any, ...]) -> None:
        store = _queues.store()
        try:
            if op == "put":
                store.put(args[0], args[1], args[2], self.iid)
                value: object = None
            elif op == "list_all":
                value = store.list_all()
            else:
                value = getattr(store, op)(*args)
            answer: tuple[Any, ...] = (True, value)
        except Exception as exc:
            answer = (False, (type(exc).__name__, str(exc)))
        try:
            self._send(answer, _wire.ANSWER)
        except Exception as exc:  # an item that does not pickle
            self._send((False, ("NotShareableError", str(exc))), _wire.ANSWER)

    def _send(self, message: object, tag: int = _wire.COMMAND) -> None:
        with self._write_lock:
            _wire.send(self._to_child, tag, message)

    # --- commands ------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self.closed:
            raise InterpreterNotFoundError(f"unrecognized interpreter ID {self.iid}")
        if self.dead_reason is not None:
            raise InterpreterError(f"interpreter {self.iid} is gone: {self.dead_reason}")

    def is_running(self) -> bool:
        """Return True while a command runs in the child."""
        self._check_usable()
        return self._busy.locked()

    def command(self, message: tuple[Any, ...]) -> tuple[object, Any]:
        """Run one command; return ``(result, excinfo or None)``."""
        self._check_usable()
        if not self._busy.acquire(blocking=False):
            raise InterpreterError("interpreter already running")
        try:
            try:
                self._send(message)
            except (BrokenPipeError, OSError):
                self._check_usable()
                raise InterpreterError(f"interpreter {self.iid} is gone") from None
            answer = self._answers.get()
            if answer[0] == "dead":
                self._answers.put(answer)  # for whoever asks next
                raise InterpreterError(f"interpreter {self.iid} is gone: {answer[1]}")
            _, result, info = answer
            if info is not None and not isinstance(info, types.SimpleNamespace):
                info = make_excinfo(*info)
            return result, info
        finally:
            self._busy.release()

    def prepare_main(self, ns: dict[str, object]) -> None:
        """Bind the (already checked) values in the child's ``__main__``."""
        try:
            self.command(("prep", ns))
        except pickle.PicklingError as exc:
            raise NotShareableError(str(exc)) from exc

    def exec(self, code: object) -> Any:
        """Run source text or a code object; return the excinfo or None."""
        if isinstance(code, types.CodeType):
            payload: object = marshal.dumps(code)
        else:
            payload = code
        return self.command(("exec", payload))[1]

    def call(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[object, Any]:
        """Call *func* in the child; ``(result, excinfo or None)``."""
        message: tuple[Any, ...] | None = None
        # A stateless function goes as its code, as 3.14 sends it: its module need not be
        # importable in the child. Others by reference, and __main__'s as code again.
        if not is_stateless(func) and not (
            isinstance(func, types.FunctionType) and func.__module__ == "__main__"
        ):
            try:
                message = ("call", pickle.dumps((func, args, kwargs), pickle.HIGHEST_PROTOCOL))
            except Exception:
                message = None
        if message is None:
            if not isinstance(func, types.FunctionType) or func.__closure__:
                raise NotShareableError(f"{func!r} does not support cross-interpreter data")
            message = (
                "callcode",
                marshal.dumps(func.__code__),
                func.__name__,
                func.__defaults__,
                func.__kwdefaults__,
                args,
                kwargs,
            )
            try:
                pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                message_text = f"{args!r} does not support cross-interpreter data"
                raise NotShareableError(message_text) from exc
        return self.command(message)

    # --- closing -------------------------------------------------------------------

    def close(self) -> None:
        """Stop the child; InterpreterError while a command runs in it."""
        if self.closed:
            raise InterpreterNotFoundError(f"unrecognized interpreter ID {self.iid}")
        if self.dead_reason is None:
            if not self._busy.acquire(blocking=False):
                raise InterpreterError("interpreter running")
            try:
                self._send(("close",))
            except OSError:
                pass
            finally:
                self._busy.release()
        self.closed = True
        self._reap()

    def kill(self) -> None:
        """End the child at once (interpreter exit, or an object nobody closed)."""
        if self.closed:
            return
        self.closed = True
        try:
            self._send(("close",))
        except OSError:
            pass
        self._reap(grace=1.0)

    def _reap(self, grace: float | None = None) -> None:
        try:
            self._proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_child)
        self._reader.join()
        os.close(self._from_child)
        _queues.store().unbind_owner(self.iid)

    @property
    def pid(self) -> int:
        """The child's process id."""
        return int(self._proc.pid)


def _local_excinfo(exc: BaseException) -> types.SimpleNamespace:
    kind = type(exc)
    text = str(exc)
    return make_excinfo(kind.__name__, kind.__qualname__, kind.__module__, text,
                        f"{kind.__name__}: {text}", f"{kind.__name__}: {text}")  # fmt: skip
