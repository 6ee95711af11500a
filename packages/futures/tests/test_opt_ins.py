"""Beyond the stdlib: propagate_context=True and max_pending=N."""

from __future__ import annotations

import contextvars as std_contextvars
import threading as std_threading

import pytest

from treadle import contextvars, futures

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
std_var: std_contextvars.ContextVar[str] = std_contextvars.ContextVar("std_var", default="-")


def read_both() -> tuple[str, str]:
    return request_id.get(), std_var.get()


def test_context_not_propagated_by_default() -> None:
    def body() -> tuple[str, str]:
        request_id.set("r1")
        std_var.set("s1")
        with futures.ThreadPoolExecutor(1) as ex:
            return ex.submit(read_both).result()

    assert contextvars.Context().run(body) == ("-", "-")


def test_propagate_context_copies_the_submitters_context() -> None:
    def body() -> list[tuple[str, str]]:
        with futures.ThreadPoolExecutor(2, propagate_context=True) as ex:
            request_id.set("r1")
            std_var.set("s1")
            first = ex.submit(read_both)
            request_id.set("r2")
            second = ex.submit(read_both)
            mapped = list(ex.map(lambda _: read_both(), range(2)))
            return [first.result(), second.result(), *mapped]

    assert contextvars.Context().run(body) == [
        ("r1", "s1"),
        ("r2", "s1"),
        ("r2", "s1"),
        ("r2", "s1"),
    ]


def test_task_changes_stay_in_the_task() -> None:
    def task() -> str:
        request_id.set("inside")
        return request_id.get()

    def body() -> tuple[str, str]:
        request_id.set("outside")
        with futures.ThreadPoolExecutor(1, propagate_context=True) as ex:
            inner = ex.submit(task).result()
            again = ex.submit(request_id.get).result()
        assert request_id.get() == "outside"
        return inner, again

    assert contextvars.Context().run(body) == ("inside", "outside")


def test_max_pending_blocks_and_times_out() -> None:
    gate = std_threading.Event()
    started = std_threading.Event()

    def first() -> None:
        started.set()
        gate.wait(60)

    with futures.ThreadPoolExecutor(1, max_pending=2, submit_timeout=0.01) as ex:
        running = ex.submit(first)
        started.wait()
        queued = [ex.submit(int), ex.submit(int)]  # fills the two pending slots
        with pytest.raises(TimeoutError, match="submit_timeout"):
            ex.submit(int)
        gate.set()
        running.result()
        assert [f.result() for f in queued] == [0, 0]
        assert ex.submit(pow, 2, 2).result() == 4  # room again


def test_max_pending_blocked_submit_resumes() -> None:
    gate = std_threading.Event()
    started = std_threading.Event()
    submitted = std_threading.Event()

    def first() -> None:
        started.set()
        gate.wait(60)

    with futures.ThreadPoolExecutor(1, max_pending=1) as ex:
        ex.submit(first)
        started.wait()
        ex.submit(int)
        results: list[int] = []

        def producer() -> None:
            results.append(ex.submit(pow, 3, 2).result())
            submitted.set()

        t = std_threading.Thread(target=producer)
        t.start()
        assert not submitted.wait(0.05)  # still blocked: the queue is full
        gate.set()
        t.join()
    assert results == [9]


def test_max_pending_shutdown_releases_blocked_submitters() -> None:
    gate = std_threading.Event()
    started = std_threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        started.set()
        gate.wait(60)

    ex = futures.ThreadPoolExecutor(1, max_pending=1)
    ex.submit(first)
    started.wait()
    ex.submit(int)
    blocked = std_threading.Barrier(3)

    def producer() -> None:
        blocked.wait()
        try:
            ex.submit(int)
        except RuntimeError as exc:
            errors.append(exc)

    threads = [std_threading.Thread(target=producer) for _ in range(2)]
    for t in threads:
        t.start()
    blocked.wait()
    ex.shutdown(wait=False, cancel_futures=True)
    gate.set()
    for t in threads:
        t.join()
    ex.shutdown()
    # Each producer either got in before shutdown (its task was cancelled or ran) or
    # was refused: none stays blocked.
    assert all("after shutdown" in str(e) for e in errors)


def test_max_pending_bounds_map_producer() -> None:
    with futures.ThreadPoolExecutor(2, max_pending=4) as ex:
        assert list(ex.map(abs, range(-50, 0))) == list(range(50, 0, -1))
