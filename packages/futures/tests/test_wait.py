"""wait() and as_completed()."""

from __future__ import annotations

import concurrent.futures as std
import gc
import threading as std_threading
import weakref
from collections.abc import Callable

import pytest

from treadle import futures


def pending() -> futures.Future[int]:
    return futures.Future()


def finish(f: futures.Future[int], result: int = 0, exc: BaseException | None = None) -> None:
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


def test_all_completed_with_duplicates() -> None:
    a, b = pending(), pending()
    t = later(lambda: finish(a, 1), lambda: finish(b, 2))
    try:
        done, not_done = futures.wait([a, b, a, b], timeout=60)
    finally:
        t.join()
    assert done == {a, b}
    assert not not_done


def test_first_completed() -> None:
    a, b = pending(), pending()
    t = later(lambda: finish(a))
    try:
        done, not_done = futures.wait([a, b], return_when=futures.FIRST_COMPLETED)
    finally:
        t.join()
    assert done == {a}
    assert not_done == {b}


def test_first_exception() -> None:
    a, b, c = pending(), pending(), pending()
    finish(a, 1)
    t = later(lambda: finish(b, exc=ValueError()))
    try:
        done, not_done = futures.wait([a, b, c], return_when=futures.FIRST_EXCEPTION)
    finally:
        t.join()
    assert done == {a, b}
    assert not_done == {c}


def test_first_exception_already_failed() -> None:
    a, b = pending(), pending()
    finish(a, exc=ValueError())
    assert futures.wait([a, b], return_when=futures.FIRST_EXCEPTION) == ({a}, {b})


def test_first_exception_none_fail_waits_for_all() -> None:
    a, b = pending(), pending()
    t = later(lambda: finish(a), lambda: finish(b))
    try:
        done, _ = futures.wait([a, b], timeout=60, return_when=futures.FIRST_EXCEPTION)
    finally:
        t.join()
    assert done == {a, b}


def test_timeout() -> None:
    a, b = pending(), pending()
    finish(a)
    done, not_done = futures.wait([a, b], timeout=0.01)
    assert done == {a}
    assert not_done == {b}
    assert not b._waiters  # the waiter is removed


def test_cancelled_counts_once_notified() -> None:
    a = pending()
    a.cancel()
    assert futures.wait([a], timeout=0).not_done == {a}
    a.set_running_or_notify_cancel()
    assert futures.wait([a], timeout=0).done == {a}


def test_empty_and_bad_input() -> None:
    assert futures.wait([]) == (set(), set())
    with pytest.raises(ValueError, match="return_when"):
        futures.wait([pending()], return_when="SOMETIMES")
    with pytest.raises(TypeError):
        futures.wait(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timeout"):
        futures.wait([pending()], timeout="soon")  # type: ignore[arg-type]


def test_mixed_with_stdlib_futures() -> None:
    ours = pending()
    theirs: std.Future[int] = std.Future()
    t = later(theirs.set_running_or_notify_cancel, lambda: theirs.set_result(1))
    try:
        done, not_done = futures.wait([ours, theirs], return_when=futures.FIRST_COMPLETED)  # type: ignore[list-item,arg-type]
    finally:
        t.join()
    assert done == {theirs}
    assert not_done == {ours}


def test_as_completed_order_and_duplicates() -> None:
    a, b, c = pending(), pending(), pending()
    finish(a)
    it = futures.as_completed([a, b, c, a])
    assert next(it) is a
    t = later(lambda: finish(c), lambda: finish(b))
    try:
        rest = list(it)
    finally:
        t.join()
    assert sorted(map(id, rest)) == sorted([id(b), id(c)])


def test_as_completed_timeout_names_unfinished() -> None:
    a, b, c = pending(), pending(), pending()
    finish(a)
    it = futures.as_completed([a, b, c], timeout=0.01)
    assert next(it) is a
    with pytest.raises(TimeoutError, match=r"2 \(of 3\) futures unfinished"):
        next(it)
    assert not b._waiters
    assert not c._waiters


def test_as_completed_does_not_keep_yielded_futures() -> None:
    a, b = pending(), pending()
    finish(a)
    ref = weakref.ref(a)
    it = futures.as_completed([a, b], timeout=60)
    next(it)
    del a
    gc.collect()
    assert ref() is None
    finish(b)
    assert list(it) == [b]


def test_as_completed_bad_input() -> None:
    with pytest.raises(TypeError):
        futures.as_completed(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="timeout"):
        futures.as_completed([], timeout=[])  # type: ignore[arg-type]
