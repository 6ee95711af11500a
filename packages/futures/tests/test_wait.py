"""wait() and as_completed(): tests taking ``impl`` run on the stdlib's and treadle's."""

from __future__ import annotations

import concurrent.futures as std
import gc
import threading as std_threading
import weakref
from collections.abc import Callable
from types import ModuleType

import pytest

from treadle import futures


def pending(impl: ModuleType = futures) -> std.Future[int]:
    f: std.Future[int] = impl.Future()
    return f


def finish(f: std.Future[int], result: int = 0, exc: BaseException | None = None) -> None:
    f.set_running_or_notify_cancel()
    if exc is None:
        f.set_result(result)
    else:
        f.set_exception(exc)


def later(*actions: Callable[[], object]) -> std_threading.Thread:
    """Run *actions* in order in a thread (the caller then waits for their effect)."""

    def run() -> None:
        for action in actions:
            action()

    t = std_threading.Thread(target=run)
    t.start()
    return t


def test_all_completed_with_duplicates(impl: ModuleType) -> None:
    a, b = pending(impl), pending(impl)
    t = later(lambda: finish(a, 1), lambda: finish(b, 2))
    try:
        done, not_done = impl.wait([a, b, a, b], timeout=60)
    finally:
        t.join()
    assert done == {a, b}
    assert not not_done


def test_first_completed(impl: ModuleType) -> None:
    a, b = pending(impl), pending(impl)
    t = later(lambda: finish(a))
    try:
        done, not_done = impl.wait([a, b], return_when=impl.FIRST_COMPLETED)
    finally:
        t.join()
    assert done == {a}
    assert not_done == {b}


def test_first_exception(impl: ModuleType) -> None:
    a, b, c = pending(impl), pending(impl), pending(impl)
    finish(a, 1)
    t = later(lambda: finish(b, exc=ValueError()))
    try:
        done, not_done = impl.wait([a, b, c], return_when=impl.FIRST_EXCEPTION)
    finally:
        t.join()
    assert done == {a, b}
    assert not_done == {c}


def test_first_exception_already_failed(impl: ModuleType) -> None:
    a, b = pending(impl), pending(impl)
    finish(a, exc=ValueError())
    assert impl.wait([a, b], return_when=impl.FIRST_EXCEPTION) == ({a}, {b})


def test_first_exception_none_fail_waits_for_all(impl: ModuleType) -> None:
    a, b = pending(impl), pending(impl)
    t = later(lambda: finish(a), lambda: finish(b))
    try:
        done, _ = impl.wait([a, b], timeout=60, return_when=impl.FIRST_EXCEPTION)
    finally:
        t.join()
    assert done == {a, b}


def test_timeout(impl: ModuleType) -> None:
    a, b = pending(impl), pending(impl)
    finish(a)
    done, not_done = impl.wait([a, b], timeout=0.01)
    assert done == {a}
    assert not_done == {b}
    assert not b._waiters  # the waiter is removed


def test_cancelled_counts_once_notified(impl: ModuleType) -> None:
    a = pending(impl)
    a.cancel()
    assert impl.wait([a], timeout=0).not_done == {a}
    a.set_running_or_notify_cancel()
    assert impl.wait([a], timeout=0).done == {a}


def test_empty_and_bad_input() -> None:
    assert futures.wait([]) == (set(), set())
    with pytest.raises(ValueError, match="return_when"):
        futures.wait([pending()], return_when="SOMETIMES")
    with pytest.raises(TypeError):
        futures.wait(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("timeout", "error", "message"),
    [
        ("soon", TypeError, "'timeout' must be a real number or None, not str"),
        (float("nan"), ValueError, "'timeout' must not be NaN"),
    ],
)
def test_bad_timeout_names_the_argument(timeout: object, error: type, message: str) -> None:
    f = pending()
    with pytest.raises(error, match=message):
        futures.wait([f], timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        futures.as_completed([f], timeout=timeout)  # type: ignore[arg-type]
    assert not f._waiters  # refused before anything was installed


def test_mixed_with_stdlib_futures() -> None:
    ours = pending()
    theirs: std.Future[int] = std.Future()
    t = later(theirs.set_running_or_notify_cancel, lambda: theirs.set_result(1))
    try:
        done, not_done = futures.wait([ours, theirs], return_when=futures.FIRST_COMPLETED)
    finally:
        t.join()
    assert done == {theirs}
    assert not_done == {ours}
    finish(ours)
    assert set(futures.as_completed([ours, theirs], timeout=60)) == {ours, theirs}


def test_as_completed_order_and_duplicates(impl: ModuleType) -> None:
    a, b, c = pending(impl), pending(impl), pending(impl)
    finish(a)
    it = impl.as_completed([a, b, c, a])
    assert next(it) is a
    t = later(lambda: finish(c), lambda: finish(b))
    try:
        rest = list(it)
    finally:
        t.join()
    assert sorted(map(id, rest)) == sorted([id(b), id(c)])


def test_as_completed_timeout_names_unfinished(impl: ModuleType) -> None:
    a, b, c = pending(impl), pending(impl), pending(impl)
    finish(a)
    it = impl.as_completed([a, b, c], timeout=0.01)
    assert next(it) is a
    with pytest.raises(impl.TimeoutError, match=r"2 \(of 3\) futures unfinished"):
        next(it)
    assert not b._waiters
    assert not c._waiters


def test_as_completed_does_not_keep_yielded_futures(impl: ModuleType) -> None:
    a, b = pending(impl), pending(impl)
    finish(a)
    ref = weakref.ref(a)
    it = impl.as_completed([a, b], timeout=60)
    next(it)
    del a
    gc.collect()
    assert ref() is None
    finish(b)
    assert list(it) == [b]


def test_as_completed_bad_input() -> None:
    with pytest.raises(TypeError):
        futures.as_completed(None)  # type: ignore[arg-type]
