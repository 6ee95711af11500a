"""Beyond the stdlib: propagate_context=True, max_pending=N, submit_timeout=seconds."""

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


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        # One rule for treadle's own keywords: the documented type, or an error naming
        # the argument, raised by the constructor.
        ({"propagate_context": "no"}, TypeError, "'propagate_context' must be True or False"),
        ({"propagate_context": 1}, TypeError, "'propagate_context' must be .* not int"),
        ({"propagate_context": None}, TypeError, "'propagate_context'"),
        ({"max_pending": 0}, ValueError, "'max_pending' must be a positive integer"),
        ({"max_pending": -3}, ValueError, "'max_pending' must be a positive integer"),
        ({"max_pending": "x"}, TypeError, "'max_pending' must be an integer or None, not str"),
        ({"max_pending": 2.0}, TypeError, "'max_pending' must be an integer or None, not float"),
        ({"max_pending": True}, TypeError, "'max_pending' must be an integer or None, not bool"),
        (
            {"max_pending": 2, "submit_timeout": -1},
            ValueError,
            "'submit_timeout' must be a non-negative number",
        ),
        (
            {"max_pending": 2, "submit_timeout": float("nan")},
            ValueError,
            "'submit_timeout' must not be NaN",
        ),
        (
            {"max_pending": 2, "submit_timeout": "x"},
            TypeError,
            "'submit_timeout' must be a real number or None, not str",
        ),
        ({"submit_timeout": 1.0}, ValueError, "'submit_timeout' needs 'max_pending'"),
    ],
)
def test_bad_opt_in_arguments(kwargs: dict[str, object], error: type, message: str) -> None:
    before = std_threading.active_count()
    with pytest.raises(error, match=message):
        futures.ThreadPoolExecutor(1, **kwargs)  # type: ignore[arg-type]
    assert std_threading.active_count() == before


def test_good_opt_in_arguments() -> None:
    # A number of seconds, zero included; the flag as a bool.
    for timeout in (0, 0.5):
        ex = futures.ThreadPoolExecutor(
            1, propagate_context=False, max_pending=1, submit_timeout=timeout
        )
        assert ex.submit(pow, 2, 3).result() == 8
        ex.shutdown()
