"""Targets of the process-model tests' children (imported by name in the child).

``conftest.py`` puts this folder on ``sys.path``; a spawned or forkserver child gets the
parent's ``sys.path`` and imports this module to unpickle its target. Results come back
as exit codes or through plain pipes (``os.pipe`` descriptors inherited by the child),
so these tests do not depend on ``connection``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from treadle import multiprocessing


def noop() -> None:
    """Do nothing."""


def exit_with(code: Any) -> None:
    """End the process with ``sys.exit(code)``."""
    sys.exit(code)


def fail() -> None:
    """Raise an error in the child."""
    raise ValueError("failing on purpose")


def wait_for_signal(ready: Any) -> None:
    """Say so on the connection *ready*, then sleep until a signal ends the process."""
    # A child inherits SIGINT ignored from a parent started in the background or by
    # pytest-xdist; interrupt() is documented for the default handler: install it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ready.send_bytes(b"r")
    while True:
        signal.pause()


def block_on(conn: Any) -> None:
    """Block until the connection *conn* has something to read (or is closed)."""
    conn.poll(None)


def check_identity(name: str, parent_pid: int, authkey: bytes, daemon: bool) -> None:
    """Exit 0 if the child sees the expected name, parent, authkey and daemon flag."""
    me = multiprocessing.current_process()
    parent = multiprocessing.parent_process()
    problems = []
    if me.name != name:
        problems.append(f"name {me.name!r}")
    if parent is None or parent.pid != parent_pid or not parent.is_alive():
        problems.append(f"parent {parent!r}")
    if bytes(me.authkey) != authkey:
        problems.append("authkey")
    if me.daemon != daemon:
        problems.append(f"daemon {me.daemon}")
    if me.pid != os.getpid() or me.ident != os.getpid():
        problems.append("pid")
    if multiprocessing.active_children():
        problems.append("children")
    if problems:
        sys.exit(", ".join(problems))


def check_kwargs(*args: Any, **kwargs: Any) -> None:
    """Exit 0 when called with exactly (1, 2) and {'x': 3}."""
    sys.exit(0 if (args, kwargs) == ((1, 2), {"x": 3}) else 9)


def try_join_self() -> None:
    """Exit 0 if joining the current process raises AssertionError."""
    try:
        multiprocessing.current_process().join()
    except AssertionError:
        sys.exit(0)
    sys.exit(9)


def start_grandchild() -> None:
    """Exit 0 if starting a process from a daemon raises AssertionError."""
    child = multiprocessing.Process(target=noop)
    try:
        child.start()
    except AssertionError as exc:
        sys.exit(0 if "daemonic" in str(exc) else 8)
    child.join()
    sys.exit(9)


def report_then_pause(conn: Any) -> None:
    """Send this process's pid on *conn*, then sleep until a signal ends it."""
    conn.send(os.getpid())
    while True:
        signal.pause()


def slow_report() -> None:
    """Print a line after half a second (the parent's exit must wait for it)."""
    import time

    time.sleep(0.5)
    print("child-done", flush=True)


def fork_tree(report: Any, depth: int) -> None:
    """Fork a chain of *depth* descendants that sleep; send their pids on *report*."""
    for _ in range(depth):
        pid = os.fork()
        if pid:
            report.send(pid)
            while True:
                signal.pause()
    report.send("done")
    while True:
        signal.pause()


class _ExitsWithCode:
    """A Process subclass's own __init__ and run()."""

    def __init__(self, code: int) -> None:
        super().__init__()
        self.code = code

    def run(self) -> None:
        """Exit with the code given."""
        sys.exit(self.code)


class SubFork(_ExitsWithCode, multiprocessing.get_context("fork").Process):  # type: ignore[misc]
    """Overrides run(), fork start method."""


class SubSpawn(_ExitsWithCode, multiprocessing.get_context("spawn").Process):  # type: ignore[misc]
    """Overrides run(), spawn start method."""


class SubForkserver(_ExitsWithCode, multiprocessing.get_context("forkserver").Process):  # type: ignore[misc]
    """Overrides run(), forkserver start method."""


class SubDefault(_ExitsWithCode, multiprocessing.Process):
    """Overrides run(), default start method."""


SUBCLASSES = {"fork": SubFork, "spawn": SubSpawn, "forkserver": SubForkserver}


def registers_atexit(fd: int) -> None:
    """Register an atexit handler that writes to *fd* (a fork child must run it)."""
    import atexit

    atexit.register(os.write, fd, b"child-atexit\n")


def exit_with_start_method() -> None:
    """Exit 0 when the child's default start method is the parent's choice (spawn)."""
    sys.exit(0 if multiprocessing.get_start_method(allow_none=True) == "spawn" else 9)


def leave_thread_running(conn: Any) -> None:
    """Start a non-daemon thread that sends on *conn* a moment later, and return."""
    import threading
    import time

    def late() -> None:
        time.sleep(0.2)
        conn.send("late")

    threading.Thread(target=late).start()


def send_thread_ids(conn: Any) -> None:
    """Send the main thread's recorded native id and the calling thread's own."""
    import threading

    conn.send((threading.main_thread().native_id, threading.get_native_id()))
