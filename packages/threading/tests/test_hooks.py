"""The hooks tools install on the stdlib's ``threading`` reach treadle's threads."""

from __future__ import annotations

import sys
import threading as std
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from treadle import threading as tt


def _crash() -> None:
    raise KeyError("crash")


def _run(target: Callable[[], object], **kwargs: Any) -> tt.Thread:
    t = tt.Thread(target=target, **kwargs)
    t.start()
    t.join()
    return t


@pytest.fixture
def stdlib_hook(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Install a collecting hook as the stdlib's threading.excepthook."""
    got: list[Any] = []
    monkeypatch.setattr(std, "excepthook", got.append)
    return got


def test_uncaught_goes_to_the_stdlib_hook_in_force(stdlib_hook: list[Any]) -> None:
    t = _run(_crash)
    (args,) = stdlib_hook
    assert isinstance(args, std.ExceptHookArgs)
    assert args.exc_type is KeyError
    assert str(args.exc_value) == "'crash'"
    assert args.exc_traceback is not None
    thread: object = args.thread
    assert thread is t


def test_a_hook_set_here_takes_precedence(
    stdlib_hook: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    mine: list[Any] = []
    monkeypatch.setattr(tt, "excepthook", mine.append)
    t = _run(_crash)
    assert stdlib_hook == []
    assert [args.thread for args in mine] == [t]


def test_excepthook_called_directly_forwards(stdlib_hook: list[Any]) -> None:
    args = tt.ExceptHookArgs([ValueError, ValueError("x"), None, None])
    tt.excepthook(args)
    assert stdlib_hook == [args]


def test_ours_installed_on_the_stdlib_does_not_loop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(std, "excepthook", tt.excepthook)
    _run(_crash, name="looped")
    err = capsys.readouterr().err
    assert "Exception in thread looped:" in err
    assert "KeyError: 'crash'" in err


def test_system_exit_is_silent(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(std, "excepthook", std.__excepthook__)
    _run(sys.exit)
    assert capsys.readouterr().err == ""


def test_a_failing_hook_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: Any) -> None:
        raise RuntimeError("hook failed")

    shown: list[BaseException | None] = []
    monkeypatch.setattr(tt, "excepthook", broken)
    monkeypatch.setattr(sys, "excepthook", lambda *exc: shown.append(exc[1]))
    _run(_crash)
    assert capsys.readouterr().err == "Exception in threading.excepthook:\n"
    assert [str(e) for e in shown] == ["hook failed"]


def test_uncaught_with_stderr_none_uses_the_threads_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(std, "excepthook", std.__excepthook__)
    t = tt.Thread(target=_crash, name="quiet")
    monkeypatch.setattr(sys, "stderr", None)
    t.start()
    t.join()
    monkeypatch.undo()
    assert "Exception in thread quiet:" in capsys.readouterr().err


# ----------------------------------------------------------------------- trace / profile


@pytest.fixture
def calls() -> Iterator[list[str]]:
    """Restore every trace and profile hook, the stdlib's and treadle's, afterwards."""
    saved = std.gettrace(), std.getprofile(), tt.gettrace(), tt.getprofile()
    got: list[str] = []
    try:
        yield got
    finally:
        std.settrace(saved[0])
        std.setprofile(saved[1])
        tt.settrace(saved[2])
        tt.setprofile(saved[3])


def _traced_work() -> None:
    pass


def _recorder(got: list[str], tag: str) -> Any:
    def hook(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_name == "_traced_work":
            got.append(f"{tag}:{event}")
        return None

    return hook


def test_stdlib_settrace_reaches_our_threads(calls: list[str]) -> None:
    std.settrace(_recorder(calls, "std"))
    _run(_traced_work)
    assert "std:call" in calls
    assert tt.gettrace() is None  # the stdlib's hook is not ours to report


def test_stdlib_setprofile_reaches_our_threads(calls: list[str]) -> None:
    std.setprofile(_recorder(calls, "std"))
    _run(_traced_work)
    assert "std:call" in calls


def test_our_settrace_takes_precedence(calls: list[str]) -> None:
    std.settrace(_recorder(calls, "std"))
    std.setprofile(_recorder(calls, "std-profile"))
    ours = _recorder(calls, "ours")
    tt.settrace(ours)
    tt.setprofile(ours)
    assert tt.gettrace() is ours
    assert tt.getprofile() is ours
    _run(_traced_work)
    assert calls
    assert all(c.startswith("ours:") for c in calls)


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="the stdlib's settrace_all_threads is new in 3.12"
)
def test_stdlib_settrace_all_threads_reaches_running_threads(calls: list[str]) -> None:
    go, parked = tt.Event(), tt.Event()

    def body() -> None:
        parked.set()
        go.wait()
        _traced_work()

    t = tt.Thread(target=body)
    t.start()
    parked.wait()
    std.settrace_all_threads(_recorder(calls, "std"))  # type: ignore[attr-defined,unused-ignore]
    try:
        go.set()
        t.join()
    finally:
        std.settrace_all_threads(None)  # type: ignore[attr-defined,unused-ignore]
    assert "std:call" in calls


def test_settrace_all_threads_here_sets_the_caller(calls: list[str]) -> None:
    hook = _recorder(calls, "ours")
    before = sys.gettrace(), sys.getprofile()
    try:
        tt.settrace_all_threads(hook)
        tt.setprofile_all_threads(hook)
        assert (tt.gettrace(), tt.getprofile()) == (hook, hook)
        assert (sys.gettrace(), sys.getprofile()) == (hook, hook)
    finally:
        sys.settrace(before[0])
        sys.setprofile(before[1])
