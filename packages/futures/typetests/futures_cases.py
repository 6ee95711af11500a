"""Type tests of treadle.futures: what a type checker infers, and what it must refuse."""

from __future__ import annotations

import concurrent.futures as std
from collections.abc import Iterator

from typing_extensions import assert_type

from treadle import futures


def square(x: int) -> int:
    """Return x squared."""
    return x * x


def greet(name: str, *, punct: str = "!") -> str:
    """Return the name and its punctuation."""
    return name + punct


# submit is typed by the callable's parameters (ParamSpec) and returns Future[its result].
with futures.ThreadPoolExecutor(2) as pool:
    assert_type(pool, futures.ThreadPoolExecutor)
    f = pool.submit(square, 3)
    assert_type(f, futures.Future[int])
    assert_type(pool.submit(greet, "a", punct="?"), futures.Future[str])
    pool.submit(square, "x")  # type: ignore[arg-type]
    pool.submit(square)  # type: ignore[call-arg]
    pool.submit(greet, "a", punct=1)  # type: ignore[arg-type]
    pool.submit(greet, "a", loud=True)  # type: ignore[call-arg]

    # Future[T].result() is T.
    assert_type(f.result(), int)
    assert_type(f.result(timeout=1.5), int)
    assert_type(f.exception(), BaseException | None)
    assert_type(f.done(), bool)
    f.result(timeout="soon")  # type: ignore[arg-type]

    # map returns Iterator[T].
    assert_type(pool.map(square, [1, 2]), Iterator[int])
    assert_type(pool.map(square, range(9), timeout=2, buffersize=4), Iterator[int])
    assert_type(pool.map(greet, ["a"]), Iterator[str])
    pool.map(square, [1], buffersize="4")  # type: ignore[arg-type]

    # wait and as_completed take any concurrent.futures.Future: the stdlib's too.
    theirs: std.Future[int] = std.Future()
    done, not_done = futures.wait([f, theirs], timeout=1)
    assert_type(done, set[std.Future[int]])
    assert_type(not_done, set[std.Future[int]])
    assert_type(futures.wait([f], return_when=futures.FIRST_COMPLETED).done, set[std.Future[int]])
    assert_type(futures.as_completed([f, theirs]), Iterator[std.Future[int]])
    for g in futures.as_completed([f], timeout=5):
        assert_type(g.result(), int)
    futures.wait([f], timeout="1")  # type: ignore[arg-type]
    futures.as_completed(f)  # type: ignore[arg-type]

# The executor-side methods check the result type.
h: futures.Future[int] = futures.Future()
h.set_result(1)
h.set_result("one")  # type: ignore[arg-type]

# treadle's own keywords have their documented types.
futures.ThreadPoolExecutor(propagate_context=True, max_pending=8, submit_timeout=0.5)
futures.ThreadPoolExecutor(propagate_context="no")  # type: ignore[arg-type]
futures.ThreadPoolExecutor(max_pending="8")  # type: ignore[arg-type]
futures.ThreadPoolExecutor(max_pending=8, submit_timeout="1")  # type: ignore[arg-type]
futures.ThreadPoolExecutor(max_workers="4")  # type: ignore[arg-type]

# The executor is a concurrent.futures.Executor, the future a concurrent.futures.Future.
plain: std.Executor = futures.ThreadPoolExecutor()
stdlib_future: std.Future[int] = h
