"""Tests of Thread, Timer and the module functions of treadle.threading."""

from __future__ import annotations

import contextvars
import sys
import threading as std
import weakref
from types import ModuleType
from typing import Any

import pytest

from treadle import contextvars as tcv
from treadle import threading as tt


def test_thread_runs_target_with_args(impl: ModuleType) -> None:
    out: list[Any] = []
    t = impl.Thread(target=lambda *a, **k: out.append((a, k)), args=(1, 2), kwargs={"x": 3})
    assert not t.is_alive()
    assert "initial" in repr(t)
    t.start()
    assert t.ident is not None
    t.join()
    assert out == [((1, 2), {"x": 3})]
    assert not t.is_alive()
    assert "stopped" in repr(t)
    assert t.native_id is not None


def test_run_lets_go_of_target(impl: ModuleType) -> None:
    class Work:
        def __call__(self, arg: object) -> None:
            pass

    work, arg = Work(), Work()
    refs = weakref.ref(work), weakref.ref(arg)
    t = impl.Thread(target=work, args=(arg,))
    del work, arg
    t.start()
    t.join()
    assert [ref() for ref in refs] == [None, None]


def test_default_name_and_counter(impl: ModuleType) -> None:
    def work() -> None:
        pass

    t = impl.Thread(target=work)
    assert t.name.startswith("Thread-")
    assert t.name.endswith(" (work)")
    assert impl.Thread(name="x").name == "x"
    assert impl.Thread(name=7).name == "7"


def test_subclass_run_and_current_thread(impl: ModuleType) -> None:
    seen: list[Any] = []

    class Worker(impl.Thread):  # type: ignore[name-defined,misc]
        def run(self) -> None:
            seen.append(impl.current_thread())
            seen.append(std.current_thread().name)

    w = Worker(name="worker-1")
    w.start()
    w.join()
    assert seen == [w, "worker-1"]


def test_daemon_inherited_and_locked_after_start(impl: ModuleType) -> None:
    flags: list[bool] = []

    def parent() -> None:
        child = impl.Thread(target=lambda: None)
        flags.append(child.daemon)

    p = impl.Thread(target=parent, daemon=True)
    p.start()
    p.join()
    assert flags == [True]
    assert impl.Thread().daemon is False
    t = impl.Thread(target=lambda: None)
    t.start()
    with pytest.raises(RuntimeError):
        t.daemon = True
    with pytest.raises(RuntimeError):
        t.start()
    t.join()


def test_join_errors(impl: ModuleType) -> None:
    t = impl.Thread(target=lambda: None)
    with pytest.raises(RuntimeError, match="before it is started"):
        t.join()
    with pytest.raises(RuntimeError, match="current thread"):
        impl.current_thread().join()
    t.start()
    t.join(-1)  # a negative timeout waits for nothing
    t.join()
    assert not t.is_alive()


def test_join_timeout_checked() -> None:
    t = tt.Thread(target=lambda: None)
    t.start()
    with pytest.raises(ValueError, match="NaN"):
        t.join(float("nan"))
    with pytest.raises(TypeError, match="'timeout'"):
        t.join("1")  # type: ignore[arg-type]
    t.join()


def test_repr_through_life(impl: ModuleType) -> None:
    go = impl.Event()
    t = impl.Thread(target=go.wait, name="r", daemon=True)
    assert repr(t) == "<Thread(r, initial daemon)>"
    t.start()
    assert repr(t) == f"<Thread(r, started daemon {t.ident})>"
    go.set()
    t.join()
    assert repr(t) == f"<Thread(r, stopped daemon {t.ident})>"


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


@pytest.mark.stdlib_since((3, 14), "Thread(context=) is new in 3.14")
def test_context(impl: ModuleType) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="default")
    var.set("caller")
    seen: list[str] = []
    for ctx in (contextvars.copy_context(), None):
        t = impl.Thread(target=lambda: seen.append(var.get()), context=ctx)
        t.start()
        t.join()
    inherit = getattr(sys.flags, "thread_inherit_context", False)
    assert seen == ["caller", "caller" if inherit else "default"]


def test_context_may_be_treadles() -> None:
    var = tcv.ContextVar("var", default="default")
    var.set("caller")
    seen: list[str] = []
    t = tt.Thread(target=lambda: seen.append(var.get()), context=tcv.copy_context())
    t.start()
    t.join()
    assert seen == ["caller"]


def test_excepthook_set_here_receives_uncaught() -> None:
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


def test_default_excepthook_prints(
    impl: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # pytest's own hook sits on the stdlib's excepthook: put the default back for this test.
    monkeypatch.setattr(std, "excepthook", std.__excepthook__)

    def boom() -> None:
        raise ValueError("visible")

    t = impl.Thread(target=boom, name="noisy")
    t.start()
    t.join()
    err = capsys.readouterr().err
    assert "Exception in thread noisy" in err
    assert "ValueError: visible" in err


def test_timer_fires_and_cancels(impl: ModuleType) -> None:
    fired = impl.Event()
    t = impl.Timer(0.01, fired.set)
    t.start()
    assert fired.wait(30)
    t.join()
    assert t.finished.is_set()
    never: list[int] = []
    c = impl.Timer(60, lambda: never.append(1))
    c.start()
    c.cancel()
    c.join()
    assert never == []


def test_timer_arguments(impl: ModuleType) -> None:
    got: list[Any] = []
    t = impl.Timer(-1, lambda *a, **k: got.append((a, k)), args=(1,), kwargs={"k": 2})
    assert (t.interval, t.args, t.kwargs) == (-1, (1,), {"k": 2})
    t.start()
    t.join()
    assert got == [((1,), {"k": 2})]
    bare = impl.Timer(None, print)  # waits until cancelled
    assert (bare.args, bare.kwargs) == ([], {})
    bare.start()
    bare.cancel()
    bare.join()


def test_timer_interval_checked() -> None:
    with pytest.raises(ValueError, match="'interval' must not be NaN"):
        tt.Timer(float("nan"), print)


def test_main_thread(impl: ModuleType) -> None:
    main = impl.main_thread()
    assert main.name == "MainThread"
    assert main.ident == std.main_thread().ident
    assert main.is_alive()
    assert main in impl.enumerate()
    assert impl.current_thread() is main
    assert impl.active_count() == len(impl.enumerate())


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


def test_camel_case_aliases_warn(impl: ModuleType) -> None:
    tt = impl
    t = impl.Thread()
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


def test_daemon_dummy_and_tstate_compat() -> None:
    t = tt.Thread(target=lambda: None)
    assert t._tstate_lock is None
    t.start()
    t.join()
    assert t._tstate_lock is None
    assert t not in tt._limbo
    assert t._os_thread_handle is t._handle
    assert len(tt._shutdown_locks) >= 0
