"""Tests of Thread, Timer and the module functions of treadle.threading."""

from __future__ import annotations

import contextvars
import sys
import threading as std
from typing import Any

import pytest

from treadle import contextvars as tcv
from treadle import threading as tt


def test_thread_runs_target_with_args() -> None:
    out: list[Any] = []
    t = tt.Thread(target=lambda *a, **k: out.append((a, k)), args=(1, 2), kwargs={"x": 3})
    assert not t.is_alive()
    assert "initial" in repr(t)
    t.start()
    assert t.ident is not None
    t.join()
    assert out == [((1, 2), {"x": 3})]
    assert not t.is_alive()
    assert "stopped" in repr(t)
    assert t.native_id is not None


def test_default_name_and_counter() -> None:
    def work() -> None:
        pass

    t = tt.Thread(target=work)
    assert t.name.startswith("Thread-")
    assert t.name.endswith(" (work)")
    assert tt.Thread(name="x").name == "x"


def test_subclass_run_and_current_thread() -> None:
    seen: list[Any] = []

    class Worker(tt.Thread):
        def run(self) -> None:
            seen.append(tt.current_thread())
            seen.append(std.current_thread().name)

    w = Worker(name="worker-1")
    w.start()
    w.join()
    assert seen == [w, "worker-1"]


def test_daemon_inherited_and_locked_after_start() -> None:
    flags: list[bool] = []

    def parent() -> None:
        child = tt.Thread(target=lambda: None)
        flags.append(child.daemon)

    p = tt.Thread(target=parent, daemon=True)
    p.start()
    p.join()
    assert flags == [True]
    assert tt.Thread().daemon is False
    t = tt.Thread(target=lambda: None)
    t.start()
    with pytest.raises(RuntimeError):
        t.daemon = True
    with pytest.raises(RuntimeError):
        t.start()
    t.join()


def test_join_errors() -> None:
    t = tt.Thread(target=lambda: None)
    with pytest.raises(RuntimeError, match="before it is started"):
        t.join()
    with pytest.raises(RuntimeError, match="current thread"):
        tt.current_thread().join()
    t.start()
    with pytest.raises(ValueError, match="NaN"):
        t.join(float("nan"))
    t.join(-1)  # a negative timeout waits for nothing
    t.join()


def test_bad_arguments_start_no_thread() -> None:
    before = tt.active_count()
    with pytest.raises(TypeError, match="target"):
        tt.Thread(target=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="context"):
        tt.Thread(context={})
    with pytest.raises(TypeError, match="interval"):
        tt.Timer("1", print)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="function"):
        tt.Timer(1, 3)  # type: ignore[arg-type]
    assert tt.active_count() == before


@pytest.mark.parametrize("kind", ["stdlib", "treadle", "none"])
def test_context(kind: str) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="default")
    var.set("caller")
    ctx: Any = None
    if kind == "stdlib":
        ctx = contextvars.copy_context()
    elif kind == "treadle":
        ctx = tcv.copy_context()
    seen: list[str] = []
    t = tt.Thread(target=lambda: seen.append(var.get()), context=ctx)
    t.start()
    t.join()
    inherit = getattr(sys.flags, "thread_inherit_context", False)
    expected = "caller" if ctx is not None or inherit else "default"
    assert seen == [expected]


def test_excepthook_receives_uncaught() -> None:
    got: list[Any] = []

    def boom() -> None:
        raise KeyError("k")

    t = tt.Thread(target=boom)
    old = tt.excepthook
    tt.excepthook = got.append
    try:
        t.start()
        t.join()
    finally:
        tt.excepthook = old
    (args,) = got
    assert args.exc_type is KeyError
    assert args.thread is t
    assert tt.__excepthook__ is old


def test_default_excepthook_prints(capsys: pytest.CaptureFixture[str]) -> None:
    def boom() -> None:
        raise ValueError("visible")

    t = tt.Thread(target=boom, name="noisy")
    t.start()
    t.join()
    err = capsys.readouterr().err
    assert "Exception in thread noisy" in err
    assert "ValueError: visible" in err


def test_timer_fires_and_cancels() -> None:
    fired = tt.Event()
    t = tt.Timer(0.01, fired.set)
    t.start()
    assert fired.wait(30)
    t.join()
    never: list[int] = []
    c = tt.Timer(60, lambda: never.append(1))
    c.start()
    c.cancel()
    c.join()
    assert never == []


def test_main_thread() -> None:
    main = tt.main_thread()
    assert main.name == "MainThread"
    assert main.ident == std.main_thread().ident
    assert main.is_alive()


def test_trace_and_profile_hooks() -> None:
    calls: list[str] = []

    def tracer(frame: Any, event: str, arg: Any) -> None:
        calls.append(event)

    old_trace, old_profile = tt.gettrace(), tt.getprofile()
    tt.settrace(tracer)
    tt.setprofile(tracer)
    try:
        assert tt.gettrace() is tracer
        assert tt.getprofile() is tracer
        t = tt.Thread(target=lambda: None)
        t.start()
        t.join()
    finally:
        tt.settrace(old_trace)
        tt.setprofile(old_profile)
    assert "call" in calls


def test_camel_case_aliases_warn() -> None:
    t = tt.Thread()
    with pytest.warns(DeprecationWarning, match="daemon attribute"):
        t.isDaemon()
    with pytest.warns(DeprecationWarning, match="daemon attribute"):
        t.setDaemon(True)
    with pytest.warns(DeprecationWarning, match="name attribute"):
        t.getName()
    with pytest.warns(DeprecationWarning, match="name attribute"):
        t.setName("n")
    with pytest.warns(DeprecationWarning, match="active_count"):
        tt.activeCount()
    with pytest.warns(DeprecationWarning, match="current_thread"):
        tt.currentThread()


def test_local_and_stack_size() -> None:
    data = tt.local()
    data.x = 1
    seen: list[bool] = []
    t = tt.Thread(target=lambda: seen.append(hasattr(data, "x")))
    t.start()
    t.join()
    assert seen == [False]
    assert data.x == 1
    assert tt.stack_size() >= 0
    with pytest.raises(ValueError, match="size"):
        tt.stack_size(1)


def test_public_names() -> None:
    for name in tt.__all__:
        assert hasattr(tt, name), name
    assert tt.Thread.__module__ == "treadle.threading"
    assert tt.ThreadError is RuntimeError


def test_all_threads_hooks_reach_the_caller() -> None:
    def tracer(frame: Any, event: str, arg: Any) -> None:
        return None

    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    saved = tt.gettrace(), tt.getprofile()
    try:
        tt.settrace_all_threads(tracer)
        tt.setprofile_all_threads(tracer)
        assert tt.gettrace() is tracer
        assert tt.getprofile() is tracer
        assert sys.gettrace() is tracer
        assert sys.getprofile() is tracer
    finally:
        sys.settrace(old_trace)
        sys.setprofile(old_profile)
        tt.settrace(saved[0])
        tt.setprofile(saved[1])


def test_daemon_dummy_and_tstate_compat() -> None:
    t = tt.Thread(target=lambda: None)
    assert t._tstate_lock is None
    t.start()
    t.join()
    assert t._tstate_lock is None
    assert t not in tt._limbo
    assert t._os_thread_handle is t._handle
    assert len(tt._shutdown_locks) >= 0
