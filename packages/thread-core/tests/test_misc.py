"""Names, stack size, interrupt_main, exit, the excepthook pair."""

from __future__ import annotations

import _thread
import io
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import pytest

from treadle import thread_core

# The conftest fixture: runs a function in a new thread and returns its result.
InThread = Callable[[Callable[[], Any]], Any]


def test_constants_and_aliases() -> None:
    assert thread_core.error is RuntimeError
    assert thread_core.TIMEOUT_MAX == _thread.TIMEOUT_MAX
    assert thread_core.exit_thread is thread_core.exit
    assert thread_core.daemon_threads_allowed() is True
    assert thread_core.get_ident() == threading.get_ident()
    assert thread_core.get_native_id() == threading.get_native_id()
    assert thread_core._get_main_thread_ident() == threading.main_thread().ident
    assert thread_core._is_main_interpreter() is True
    assert issubclass(thread_core.PythonFinalizationError, RuntimeError)


def test_exit_raises_system_exit() -> None:
    with pytest.raises(SystemExit):
        thread_core.exit()


def _name_in_thread(in_thread: InThread, name: Any) -> Any:
    def job() -> Any:
        try:
            thread_core.set_name(name)
        except Exception as exc:
            return type(exc)
        return thread_core._get_name()

    return in_thread(job)


def test_set_name_truncates_to_platform_limit(in_thread: InThread) -> None:
    assert thread_core._NAME_MAXLEN == 15
    assert _name_in_thread(in_thread, "abcdefghijklmnopqrstuvwxyz") == "abcdefghijklmno"
    assert _name_in_thread(in_thread, "short") == "short"


def test_set_name_replaces_what_cannot_be_encoded(in_thread: InThread) -> None:
    assert _name_in_thread(in_thread, "\udcffabc") == "?abc"


def test_set_name_bad_input(in_thread: InThread) -> None:
    assert _name_in_thread(in_thread, b"bytes") is TypeError
    assert _name_in_thread(in_thread, "a\0b") == "a"


def test_stack_size(in_thread: InThread) -> None:
    assert thread_core.stack_size() == 0
    with pytest.raises(ValueError, match="size must be at least"):
        thread_core.stack_size(123)
    with pytest.raises(ValueError, match="size must be at least"):
        thread_core.stack_size(-4096)
    with pytest.raises(ValueError, match="size must be at least"):
        thread_core.stack_size(32768)  # enough before 3.14, not any more
    with pytest.raises(TypeError):
        thread_core.stack_size(1.5)  # type: ignore[arg-type]
    assert thread_core.stack_size(0x100000) == 0
    try:
        assert in_thread(lambda: 42) == 42
    finally:
        # Without an argument: the current size, set back to the default.
        assert thread_core.stack_size() == 0x100000
        assert thread_core.stack_size() == 0


def test_interrupt_main_runs_the_handler(in_thread: InThread) -> None:
    hits: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        hits.append(signum)

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        in_thread(lambda: thread_core.interrupt_main(signal.SIGUSR1))
        # The handler runs in the main thread at its next bytecode boundary.
        for _ in range(100_000):
            if hits:
                break
        assert hits == [signal.SIGUSR1]
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_interrupt_main_default_is_sigint() -> None:
    # A background shell starts us with SIGINT ignored: install the handler we need.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:

        def interrupt_and_run() -> None:
            thread_core.interrupt_main()
            for _ in range(100_000):  # the handler runs at a bytecode boundary
                pass

        with pytest.raises(KeyboardInterrupt):
            interrupt_and_run()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_interrupt_main_bad_signal() -> None:
    with pytest.raises(ValueError, match="signal number out of range"):
        thread_core.interrupt_main(100_000)


class _Named:
    name = "worker-7"


def _hook_output(args: Any) -> str:
    buf = io.StringIO()
    previous = sys.stderr
    sys.stderr = buf
    try:
        thread_core._excepthook(args)
    finally:
        sys.stderr = previous
    return buf.getvalue()


def test_excepthook_prints_thread_name_and_traceback() -> None:
    try:
        raise KeyError("boom")
    except KeyError as exc:
        args = thread_core._ExceptHookArgs([KeyError, exc, exc.__traceback__, _Named()])
    out = _hook_output(args)
    assert out.startswith("Exception in thread worker-7:\n")
    assert "Traceback (most recent call last):" in out
    assert out.rstrip().endswith("KeyError: 'boom'")


def test_excepthook_without_thread_uses_ident_and_ignores_system_exit() -> None:
    exc = ValueError("x")
    out = _hook_output(thread_core._ExceptHookArgs([ValueError, exc, None, None]))
    assert out.startswith(f"Exception in thread {thread_core.get_ident()}:")
    assert _hook_output(thread_core._ExceptHookArgs([SystemExit, SystemExit(), None, None])) == ""


def test_excepthook_args_fields() -> None:
    args = thread_core._ExceptHookArgs([ValueError, None, None, None])
    assert args.exc_type is ValueError
    assert args.exc_value is None
    assert args.exc_traceback is None
    assert args.thread is None
    assert args.n_fields == 4
    assert tuple(args) == (ValueError, None, None, None)
    with pytest.raises(TypeError):
        thread_core._ExceptHookArgs([1, 2])


class _BornWithStream:
    name = "keeper"

    def __init__(self, stream: io.StringIO) -> None:
        self._stderr = stream


def test_excepthook_without_stderr_uses_the_threads_own_stream() -> None:
    kept = io.StringIO()
    exc = OSError("disk")
    previous = sys.stderr
    sys.stderr = None
    try:
        thread_core._excepthook(
            thread_core._ExceptHookArgs([OSError, exc, None, _BornWithStream(kept)])
        )
        # Nowhere to write at all: silently nothing.
        thread_core._excepthook(thread_core._ExceptHookArgs([OSError, exc, None, _Named()]))
    finally:
        sys.stderr = previous
    assert kept.getvalue().startswith("Exception in thread keeper:\n")
    assert kept.getvalue().rstrip().endswith("OSError: disk")
