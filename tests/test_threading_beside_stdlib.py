"""treadle.threading beside the stdlib: each point of issue 4's "Beside the stdlib".

Names and registries shared both ways, logging's threadName, locks of either kind in
conditions of either kind, and (in child processes) the joins at exit and fork.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import subprocess
import threading as std
from collections.abc import Callable
from typing import Any

import pytest

from treadle import threading as tt

# The pytest-treadle fixture: runs a snippet in a new interpreter.
Snippet = Callable[[str], "subprocess.CompletedProcess[str]"]


def test_non_daemon_threads_joined_before_atexit(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        import atexit, threading
        from treadle import threading as tt
        gate = tt.Event()
        order = []
        def work():
            gate.wait()
            order.append("thread")
        def hook():
            order.append("register_atexit")
            gate.set()
        atexit.register(lambda: print(",".join(order)))
        tt.Thread(target=work).start()
        tt._register_atexit(hook)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "register_atexit,thread"


def test_shutdown_when_substituted_for_stdlib(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        import atexit, sys, threading
        from treadle import threading as tt
        sys.modules["threading"] = tt
        gate = tt.Event()
        done = []
        def work():
            gate.wait()
            done.append(1)
        tt.Thread(target=work).start()
        std_done = []
        threading.Thread(target=lambda: (gate.wait(), std_done.append(1))).start()
        tt._register_atexit(gate.set)
        atexit.register(lambda: print(len(done), len(std_done)))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1 1"


def test_register_atexit_after_shutdown_refused(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        from treadle import threading as tt
        tt._shutdown()
        try:
            tt._register_atexit(print)
        except RuntimeError:
            print("refused")
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "refused"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_leaves_consistent_state(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        import os, warnings
        warnings.simplefilter("ignore", DeprecationWarning)
        from treadle import threading as tt
        cond = tt.Condition()
        sem = tt.Semaphore(0)
        evt = tt.Event()
        barrier = tt.Barrier(2)
        entered = tt.Semaphore(0)
        def blocked():
            entered.release()
            sem.acquire()
        def in_cond():
            with cond:
                entered.release()
                cond.wait()
        def on_barrier():
            entered.release()
            try:
                barrier.wait()
            except tt.BrokenBarrierError:
                pass
        threads = [tt.Thread(target=f) for f in (blocked, in_cond, on_barrier, evt.wait)]
        for t in threads:
            t.start()
        for _ in range(3):
            entered.acquire()
        with cond:  # in_cond is waiting now
            pid = os.fork()
        if pid == 0:
            ok = len(tt.enumerate()) == 1 and tt.main_thread() is tt.current_thread()
            with cond:
                cond.notify_all()
            sem.release()
            ok = ok and sem.acquire(timeout=5)
            evt.set()
            ok = ok and evt.wait(5)
            # The barrier's vanished waiter does not count: two new parties pass it.
            t = tt.Thread(target=barrier.wait, args=(5,))
            t.start()
            ok = ok and barrier.n_waiting <= 1
            try:
                barrier.wait(5)
            except tt.BrokenBarrierError:
                ok = False
            t.join()
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        sem.release()
        with cond:
            cond.notify_all()
        evt.set()
        barrier.abort()
        for t in threads:
            t.join()
        print(os.waitstatus_to_exitcode(status))
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "0"


def test_treadle_lock_accepted_by_stdlib_condition_in_thread() -> None:
    cond = std.Condition(tt.RLock())
    flag: list[int] = []

    def setter() -> None:
        with cond:
            flag.append(1)
            cond.notify()

    t = tt.Thread(target=setter)
    with cond:
        t.start()
        assert cond.wait_for(lambda: flag, 30)
    t.join()


def test_import_from_another_thread_exits_cleanly(python_snippet: Snippet) -> None:
    proc = python_snippet(
        """
        import _thread
        done = _thread.allocate_lock()
        done.acquire()
        def importer():
            from treadle import threading
            threading.current_thread()
            done.release()
        _thread.start_new_thread(importer, ())
        done.acquire()
        from treadle import threading
        print(threading.main_thread().name)
        """
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert proc.stdout.strip() == "MainThread"


def test_enumerate_sees_stdlib_threads_and_stdlib_sees_ours() -> None:
    release = tt.Event()
    std_thread = std.Thread(target=release.wait, name="std-side")
    ours = tt.Thread(target=release.wait, name="treadle-side")
    std_thread.start()
    ours.start()
    try:
        assert std_thread in tt.enumerate()
        assert ours in tt.enumerate()
        assert "treadle-side" in [t.name for t in std.enumerate()]
        assert tt.main_thread() in tt.enumerate()
        assert tt.active_count() == len(tt.enumerate())
    finally:
        release.set()
        std_thread.join()
        ours.join()
    assert ours not in tt.enumerate()
    assert "treadle-side" not in [t.name for t in std.enumerate()]


def test_current_thread_in_stdlib_thread_and_foreign_thread() -> None:
    seen: list[Any] = []
    t = std.Thread(target=lambda: seen.append(tt.current_thread()))
    t.start()
    t.join()
    assert seen == [t]
    done = tt.Lock()
    done.acquire()

    def foreign() -> None:
        seen.append(tt.current_thread())
        done.release()

    tt._start_new_thread(foreign, ())
    done.acquire()
    assert type(seen[-1]).__name__ == "_DummyThread"
    assert seen[-1].daemon
    assert seen[-1].name.startswith("Dummy-")


def test_logging_thread_name() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(threadName)s"))
    log = logging.getLogger("treadle-threading-test")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        t = tt.Thread(target=lambda: log.info("x"), name="logged-name")
        t.start()
        t.join()
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().strip() == "logged-name"


def test_stdlib_lock_in_treadle_condition_and_back() -> None:
    for cond in (tt.Condition(std.Lock()), std.Condition(tt.Lock()), std.Condition(tt.RLock())):
        box: list[int] = []

        def producer(cond: Any = cond, box: list[int] = box) -> None:
            with cond:
                box.append(1)
                cond.notify()

        with cond:
            t = tt.Thread(target=producer)
            t.start()
            assert cond.wait_for(functools.partial(len, box), 30)
        t.join()
