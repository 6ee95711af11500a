"""Starting threads and joining them through handles."""

from __future__ import annotations

import subprocess
import sys
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from treadle import thread_core

# The pytest-treadle fixture: runs a snippet in a new interpreter.
Snippet = Callable[[str], "subprocess.CompletedProcess[str]"]

# The conftest fixture: forks, runs a function in the child, returns its bytes.
ForkAnswer = Callable[[Callable[[], bytes]], bytes]

WAIT = 30.0  # a deadlock guard for Event.wait, far above any real wait


@pytest.fixture
def unraisable() -> Iterator[list[Any]]:
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


def test_start_new_thread_runs_function_with_args_and_kwargs() -> None:
    done = threading.Event()
    got: list[Any] = []

    def task(a: int, b: int, *, c: int) -> None:
        got.append((a, b, c, thread_core.get_ident()))
        done.set()

    ident = thread_core.start_new_thread(task, (1, 2), {"c": 3})
    assert done.wait(WAIT)
    assert got == [(1, 2, 3, ident)]
    assert ident != thread_core.get_ident()


def test_start_new_alias() -> None:
    assert thread_core.start_new is thread_core.start_new_thread


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1, ()), "first arg must be callable"),
        ((print, []), "2nd arg must be a tuple"),
        ((print, (), []), "optional 3rd arg must be a dictionary"),
    ],
)
def test_start_new_thread_bad_input_starts_nothing(args: tuple[Any, ...], message: str) -> None:
    before = thread_core._count()
    with pytest.raises(TypeError, match=message):
        thread_core.start_new_thread(*args)
    assert thread_core._count() == before


def test_uncaught_exception_reported_as_in_314(unraisable: list[Any]) -> None:
    done = thread_core.allocate_lock()
    done.acquire()

    def task() -> None:
        try:
            raise ValueError("task failed")
        finally:
            done.release()

    handle = thread_core.start_joinable_thread(task)
    handle.join(WAIT)
    assert handle.is_done()
    assert len(unraisable) == 1
    report = unraisable[0]
    assert str(report.exc_value) == "task failed"
    assert report.exc_type is ValueError
    assert report.exc_traceback is not None
    assert report.object is None
    assert report.err_msg == f"Exception ignored in thread started by {task!r}"


def test_system_exit_is_silent(unraisable: list[Any]) -> None:
    handle = thread_core.start_joinable_thread(thread_core.exit)
    handle.join(WAIT)
    assert handle.is_done()
    assert unraisable == []


def test_audit_event_names_the_callers_function() -> None:
    events: list[tuple[str, tuple[Any, ...]]] = []

    def task() -> None:
        pass

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event.startswith("_thread.start") and args and args[0] is task:
            events.append((event, args))

    # Audit hooks cannot be removed; this one only looks for this test's function.
    sys.addaudithook(hook)
    handle = thread_core.start_joinable_thread(task)
    handle.join(WAIT)
    done = threading.Event()
    thread_core.start_new_thread(done.set, ())
    assert done.wait(WAIT)
    assert events
    assert events[0][0] == "_thread.start_joinable_thread"


def test_join_waits_and_reports_ident() -> None:
    gate = thread_core.allocate_lock()
    gate.acquire()
    idents: list[int] = []

    def task() -> None:
        gate.acquire()
        idents.append(thread_core.get_ident())

    handle = thread_core.start_joinable_thread(task)
    handle.join(0.01)
    assert not handle.is_done()
    gate.release()
    handle.join()
    assert handle.is_done()
    assert idents == [handle.ident]
    handle.join()  # again: returns at once


def test_join_timeout_validation() -> None:
    handle = thread_core.start_joinable_thread(lambda: None)
    handle.join()
    with pytest.raises(ValueError, match="NaN"):
        handle.join(float("nan"))
    # The interpreter's handles (3.13+) and treadle's word it differently; both name
    # the type they refuse.
    with pytest.raises(TypeError, match="str"):
        handle.join("1")  # type: ignore[arg-type]


def test_join_with_a_negative_timeout_waits_for_the_end() -> None:
    # As the interpreter's handles do: a negative timeout is no limit at all.
    gate = thread_core.allocate_lock()
    gate.acquire()
    handle = thread_core.start_joinable_thread(gate.acquire)
    opener = thread_core.start_joinable_thread(gate.release)
    handle.join(-1)
    assert handle.is_done()
    opener.join()


def test_join_from_the_thread_itself_raises() -> None:
    errors: list[BaseException] = []
    holder: list[Any] = []
    go = thread_core.allocate_lock()
    go.acquire()

    def task() -> None:
        go.acquire()
        try:
            holder[0].join()
        except RuntimeError as exc:
            errors.append(exc)

    handle = thread_core.start_joinable_thread(task)
    holder.append(handle)
    go.release()
    handle.join()
    assert len(errors) == 1
    assert "Cannot join current thread" in str(errors[0])


def test_unstarted_handle() -> None:
    handle = thread_core._ThreadHandle()
    assert handle.ident == 0
    assert not handle.is_done()
    with pytest.raises(RuntimeError, match="thread not started"):
        handle.join()
    with pytest.raises(RuntimeError, match="thread not started"):
        handle._set_done()


def test_handle_can_start_only_once() -> None:
    gate = thread_core.allocate_lock()
    gate.acquire()
    handle = thread_core._ThreadHandle()
    thread_core.start_joinable_thread(gate.acquire, handle=handle)
    with pytest.raises(RuntimeError, match="thread already started"):
        thread_core.start_joinable_thread(gate.acquire, handle=handle)
    gate.release()
    handle.join()


def test_bad_handle_and_function() -> None:
    before = thread_core._count()
    with pytest.raises(TypeError, match="must be callable"):
        thread_core.start_joinable_thread(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="'handle' must be a _ThreadHandle"):
        thread_core.start_joinable_thread(print, handle=object())  # type: ignore[arg-type]
    assert thread_core._count() == before


def test_count_follows_threads() -> None:
    orig = thread_core._count()
    gate = thread_core.allocate_lock()
    gate.acquire()
    started = threading.Event()

    def task() -> None:
        started.set()
        gate.acquire()

    handle = thread_core.start_joinable_thread(task)
    assert started.wait(WAIT)
    assert thread_core._count() == orig + 1
    gate.release()
    handle.join()
    # The interpreter drops the function only after the thread's count went down.
    gone = threading.Event()
    ref = weakref.ref(task, lambda _: gone.set())
    del task
    assert gone.wait(WAIT)
    assert ref() is None
    assert thread_core._count() == orig


def test_non_daemon_thread_joined_before_atexit(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        import atexit, time
        from treadle import thread_core
        gate = thread_core.allocate_lock(); gate.acquire()
        def worker():
            gate.acquire()          # released only once the main module has finished
            print("worker done", flush=True)
        atexit.register(lambda: print("atexit", flush=True))
        thread_core.start_joinable_thread(worker, daemon=False)
        thread_core.runtime.at_thread_join(gate.release)
        print("main done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["main", "done", "worker", "done", "atexit"]


def test_daemon_thread_not_waited_for(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        from treadle import thread_core
        gate = thread_core.allocate_lock(); gate.acquire()
        thread_core.start_joinable_thread(gate.acquire, daemon=True)
        print("main done", flush=True)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "main done"


def test_handles_of_vanished_threads_are_done_in_forked_child(fork_answer: ForkAnswer) -> None:
    gate = thread_core.allocate_lock()
    gate.acquire()
    handle = thread_core.start_joinable_thread(gate.acquire)

    def child() -> bytes:
        handle.join(WAIT)
        return b"done" if handle.is_done() else b"alive"

    try:
        assert fork_answer(child) == b"done"
    finally:
        gate.release()
        handle.join()
