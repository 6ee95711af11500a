"""The interface other treadle packages use to live beside the stdlib."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from treadle import thread_core
from treadle.thread_core import runtime

# The conftest fixture: forks, runs a function in the child, returns its bytes.
ForkAnswer = Callable[[Callable[[], bytes]], bytes]

WAIT = 30.0


class _Owner:
    def __init__(self, name: str) -> None:
        self.name = name
        self.daemon = False
        self.alive = True

    def is_alive(self) -> bool:
        return self.alive

    def join(self, timeout: float | None = None) -> None:
        pass


def test_published_thread_is_seen_by_the_stdlib() -> None:
    owner = _Owner("treadle-worker")
    seen: dict[str, Any] = {}
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("treadle.test.runtime")
    handler = Keep()
    log.addHandler(handler)

    def job() -> None:
        runtime.publish_current_thread(owner)
        try:
            current = threading.current_thread()
            seen["name"] = current.name
            seen["listed"] = current in threading.enumerate()
            seen["hidden"] = current not in runtime.stdlib_threads()
            seen["owner"] = runtime.owner_of(current)
            owner.name = "renamed"
            seen["renamed"] = current.name
            log.warning("hello")
        finally:
            runtime.unpublish_current_thread()
        seen["after"] = threading.current_thread().name

    try:
        handle = thread_core.start_joinable_thread(job)
        handle.join(WAIT)
    finally:
        log.removeHandler(handler)
    assert seen["name"] == "treadle-worker"
    assert seen["listed"] is True
    assert seen["hidden"] is True
    assert seen["owner"] is owner
    assert seen["renamed"] == "renamed"
    assert records[0].threadName == "renamed"
    assert seen["after"] != "renamed"
    assert runtime.owner_of(threading.main_thread()) is None


def test_bad_callbacks() -> None:
    with pytest.raises(TypeError, match="callback must be callable"):
        runtime.at_thread_join(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callback must be callable"):
        runtime.after_fork_in_child(None)  # type: ignore[arg-type]


def test_after_fork_callback_runs_in_child_only(fork_answer: ForkAnswer) -> None:
    ran: list[int] = []
    runtime.after_fork_in_child(lambda: ran.append(os.getpid()))
    assert fork_answer(lambda: b"yes" if ran == [os.getpid()] else b"no") == b"yes"
    assert ran == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_published_thread_that_forks_becomes_the_childs_main_thread() -> None:
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import os, sys, threading, warnings
        from treadle import thread_core
        from treadle.thread_core import runtime

        class Owner:
            name = "forker"
            daemon = False
            def is_alive(self): return True
            def join(self, timeout=None): pass

        def job():
            runtime.publish_current_thread(Owner())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                # Only this thread lives in the child, so no interpreter exit will run
                # there: run the stdlib's exit step for threads by hand, on its main
                # thread, which is this one.
                try:
                    print("child main:", threading.main_thread().name, flush=True)
                    threading._shutdown()
                except BaseException as exc:
                    print("child failed:", repr(exc), flush=True)
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            print("child status:", os.waitstatus_to_exitcode(status), flush=True)
            runtime.unpublish_current_thread()

        thread_core.start_joinable_thread(job).join()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "child main: forker" in proc.stdout
    assert "child status: 0" in proc.stdout
    assert "Exception ignored" not in proc.stderr, proc.stderr
