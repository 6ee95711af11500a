"""Future: states, results, callbacks, the executor-side methods, the stdlib's identity.

Tests taking ``impl`` run on concurrent.futures and on treadle.futures alike.
"""

from __future__ import annotations

import concurrent.futures as std
import logging
import threading as std_threading
import typing
from types import ModuleType

import pytest

from treadle import futures
from treadle.futures import _base


def finished(
    impl: ModuleType, result: object = None, exc: BaseException | None = None
) -> std.Future[object]:
    f: std.Future[object] = impl.Future()
    assert f.set_running_or_notify_cancel()
    if exc is not None:
        f.set_exception(exc)
    else:
        f.set_result(result)
    return f


def test_identity_with_the_stdlib() -> None:
    f: futures.Future[int] = futures.Future()
    assert isinstance(f, std.Future)
    assert futures.CancelledError is std.CancelledError
    assert futures.InvalidStateError is std.InvalidStateError
    assert futures.BrokenExecutor is std.BrokenExecutor
    assert issubclass(futures.TimeoutError, TimeoutError)
    assert issubclass(futures.TimeoutError, std.TimeoutError)
    assert issubclass(futures.ThreadPoolExecutor, std.ThreadPoolExecutor)
    assert typing.get_origin(futures.Future[int]) is futures.Future


def test_stdlib_machinery_is_not_used() -> None:
    f: futures.Future[int] = futures.Future()
    # The stdlib's __init__ would have made a threading.Condition.
    assert "_condition" not in vars(f)


def test_pending_state_and_repr(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    assert not f.done()
    assert not f.running()
    assert not f.cancelled()
    assert "state=pending" in repr(f)
    assert f.set_running_or_notify_cancel()
    assert f.running()
    assert "state=running" in repr(f)
    f.set_result(3)
    assert f.done()
    assert f.result() == 3
    assert f.exception() is None
    assert repr(f).endswith("state=finished returned int>")


def test_exception_result(impl: ModuleType) -> None:
    f = finished(impl, exc=ValueError("boom"))
    assert isinstance(f.exception(), ValueError)
    with pytest.raises(ValueError, match="boom"):
        f.result()
    assert "raised ValueError" in repr(f)


def test_cancel(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    assert f.cancel()
    assert f.cancel()
    assert f.cancelled()
    assert f.done()
    with pytest.raises(impl.CancelledError):
        f.result()
    with pytest.raises(impl.CancelledError):
        f.exception(timeout=0)
    assert not f.set_running_or_notify_cancel()
    assert f._state == _base.CANCELLED_AND_NOTIFIED


def test_cannot_cancel_running_or_finished(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    f.set_running_or_notify_cancel()
    assert not f.cancel()
    f.set_result(1)
    assert not f.cancel()


def test_invalid_state(impl: ModuleType) -> None:
    f = finished(impl, 1)
    with pytest.raises(impl.InvalidStateError):
        f.set_result(2)
    with pytest.raises(impl.InvalidStateError):
        f.set_exception(ValueError())
    c: std.Future[int] = impl.Future()
    c.cancel()
    with pytest.raises(impl.InvalidStateError):
        c.set_result(1)
    with pytest.raises(RuntimeError):
        f.set_running_or_notify_cancel()


def test_result_timeout(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    with pytest.raises(impl.TimeoutError):
        f.result(timeout=0)
    with pytest.raises(impl.TimeoutError):
        f.result(timeout=-1)
    with pytest.raises(impl.TimeoutError):
        f.exception(timeout=0.01)
    f.set_result(1)
    assert f.result(timeout=0) == 1


def test_timed_out_wait_leaves_the_gate_for_the_next_waiter() -> None:
    f: futures.Future[int] = futures.Future()
    with pytest.raises(TimeoutError):
        f.result(timeout=0)
    assert f._gate is not None
    assert f._gate.locked()
    f.set_result(1)
    assert f._gate is None
    assert f.result(timeout=0) == 1


@pytest.mark.parametrize("method", ["result", "exception"])
def test_bad_timeout_is_refused_whatever_the_state(method: str) -> None:
    pending: futures.Future[int] = futures.Future()
    done: futures.Future[int] = futures.Future()
    done.set_result(1)
    for f in (pending, done):
        with pytest.raises(TypeError, match="'timeout' must be a real number or None, not str"):
            getattr(f, method)(timeout="1")
        with pytest.raises(ValueError, match="'timeout' must not be NaN"):
            getattr(f, method)(timeout=float("nan"))
    assert pending._gate is None  # refused before any waiting began
    getattr(done, method)(timeout=True)  # a bool counts as seconds, as in the stdlib


def test_result_wakes_when_set_from_another_thread(impl: ModuleType) -> None:
    f: std.Future[str] = impl.Future()
    waiting = std_threading.Event()

    def setter() -> None:
        waiting.wait()
        f.set_result("done")

    t = std_threading.Thread(target=setter)
    t.start()
    try:
        waiting.set()
        assert f.result(timeout=60) == "done"
    finally:
        t.join()


def test_cancel_wakes_result(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    started = std_threading.Event()
    outcome: list[object] = []

    def waiter() -> None:
        started.set()
        try:
            f.result()
        except impl.CancelledError as exc:
            outcome.append(exc)

    t = std_threading.Thread(target=waiter)
    t.start()
    started.wait()
    f.cancel()
    t.join()
    assert len(outcome) == 1


def test_many_waiters_all_wake(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    ready = std_threading.Barrier(5)
    results: list[int] = []

    def waiter() -> None:
        ready.wait()
        results.append(f.result(timeout=60))

    threads = [std_threading.Thread(target=waiter) for _ in range(4)]
    for t in threads:
        t.start()
    ready.wait()
    f.set_result(7)
    for t in threads:
        t.join()
    assert results == [7] * 4


def test_callbacks_run_once_in_order(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    seen: list[tuple[str, object]] = []
    f.add_done_callback(lambda g: seen.append(("a", g)))
    f.add_done_callback(lambda g: seen.append(("b", g)))
    f.set_running_or_notify_cancel()
    f.set_result(1)
    assert seen == [("a", f), ("b", f)]
    f.add_done_callback(lambda g: seen.append(("late", g)))
    assert seen[-1] == ("late", f)
    assert len(seen) == 3


def test_callback_on_cancel(impl: ModuleType) -> None:
    f: std.Future[int] = impl.Future()
    seen: list[bool] = []
    f.add_done_callback(lambda g: seen.append(g.cancelled()))
    f.cancel()
    assert seen == [True]


def test_callback_exception_is_logged(impl: ModuleType, caplog: pytest.LogCaptureFixture) -> None:
    f: std.Future[int] = impl.Future()
    seen: list[int] = []

    def bad(_: object) -> None:
        raise RuntimeError("callback failure")

    f.add_done_callback(bad)
    f.add_done_callback(lambda g: seen.append(1))
    with caplog.at_level(logging.ERROR, logger="concurrent.futures"):
        f.set_running_or_notify_cancel()
        f.set_result(5)
        f.add_done_callback(bad)
    assert seen == [1]
    assert f.result() == 5
    assert sum("exception calling callback" in r.getMessage() for r in caplog.records) == 2


def test_stdlib_wait_accepts_treadle_futures() -> None:
    f: futures.Future[object] = futures.Future()
    done = finished(futures, 1)

    def complete() -> None:
        f.set_running_or_notify_cancel()
        f.set_result(2)

    t = std_threading.Timer(0, complete)
    t.start()
    try:
        result = std.wait([f, done], timeout=60)
    finally:
        t.join()
    assert result.done == {f, done}
    theirs: list[std.Future[object]] = [f]
    assert [g.result() for g in std.as_completed(theirs)] == [2]


def test_condition_view_for_code_using_internals() -> None:
    f: futures.Future[int] = futures.Future()
    started = std_threading.Event()
    outcome: list[BaseException | None] = []

    def waiter() -> None:
        started.set()
        outcome.append(f.exception(timeout=60))

    t = std_threading.Thread(target=waiter)
    t.start()
    started.wait()
    with f._condition:
        f._state = _base.FINISHED
        f._exception = OSError()
        f._condition.notify_all()
    t.join()
    assert isinstance(outcome[0], OSError)


def test_condition_view_wait() -> None:
    f: futures.Future[int] = futures.Future()
    with f._condition:
        assert not f._condition.wait(0)
        with pytest.raises(TypeError, match="'timeout'"):
            f._condition.wait("soon")  # type: ignore[arg-type]
    f.set_result(1)
    with f._condition:
        assert f._condition.wait(0)
