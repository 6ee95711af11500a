"""The leak check itself: a test that leaves something behind must fail."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["pytester"]

HEADER = """
import os, subprocess, sys, threading
import pytest
"""


@pytest.fixture(autouse=True)
def _short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TREADLE_LEAK_GRACE", "0.5")


def _run(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + body)
    # The plugin is loaded through its pytest11 entry point, as in every treadle run.
    return pytester.runpytest_subprocess("-q", "-p", "no:randomly")


def test_clean_test_passes(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
def test_clean():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
""",
    )
    result.assert_outcomes(passed=1)


def test_leaked_thread_fails(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
stop = threading.Event()

def test_leaks():
    threading.Thread(target=stop.wait, daemon=True).start()

def test_after():
    stop.set()
""",
    )
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test leaked:*", "*OS thread*"])


def test_leaked_descriptor_fails(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
kept = []

def test_leaks():
    kept.append(os.pipe())
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*descriptor*pipe:*"])


def test_leaked_child_fails_and_is_reaped(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
def test_leaks():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*child process*"])


def _run_leaving_segment(pytester: pytest.Pytester, name: str, *args: str) -> pytest.RunResult:
    """Run a test that creates the file *name* and leaves it; remove it afterwards."""
    pytester.makepyfile(
        HEADER
        + f"""
def test_leaks():
    os.close(os.open({name!r}, os.O_CREAT | os.O_WRONLY, 0o600))
"""
    )
    try:
        return pytester.runpytest_subprocess("-q", "-p", "no:randomly", *args)
    finally:
        if os.path.exists(name):
            os.unlink(name)


def test_leaked_segment_fails(pytester: pytest.Pytester) -> None:
    name = f"/dev/shm/treadle-plugin-test-{os.getpid()}"
    result = _run_leaving_segment(pytester, name)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*segment {name}*"])


def test_opt_out_needs_a_reason(pytester: pytest.Pytester) -> None:
    result = _run(
        pytester,
        """
@pytest.mark.leaks_ok("fd")
def test_no_reason():
    pass

kept = []

@pytest.mark.leaks_ok("fd", reason="keeps a pipe for the next test")
def test_with_reason():
    kept.append(os.pipe())
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*leaks_ok needs reason=*"])


def test_python_snippet_runs_dedented_code_in_a_new_interpreter(
    pytester: pytest.Pytester,
) -> None:
    result = _run(
        pytester,
        """
def test_snippet(python_snippet):
    proc = python_snippet(
        '''
        import sys
        print("dedented")
        sys.exit(3)
        '''
    )
    assert proc.stdout == "dedented\\n"
    assert proc.returncode == 3
""",
    )
    result.assert_outcomes(passed=1)


def test_announced_service_processes_are_not_leaks(pytester: pytest.Pytester) -> None:
    # treadle.multiprocessing's resource tracker and forkserver outlive the test that
    # started them: the check leaves out exactly what its _services module lists, and
    # only when that module is loaded (a stand-in here, under its real name).
    result = _run(
        pytester,
        """
import types

services = types.ModuleType("treadle.multiprocessing._services")
running = {}
def live():
    return frozenset(running), frozenset(fd for fds in running.values() for fd in fds)
services.live = live
sys.modules[services.__name__] = services
kept = []

def test_service_started():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    kept.append(child)
    running[child.pid] = (child.stdin.fileno(),)

def test_other_child_still_leaks():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

def test_stop_service():
    child = kept.pop()
    running.clear()
    child.stdin.close()
    child.wait()
""",
    )
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*test_other_child_still_leaks*", "*child process*"])
    result.stdout.no_fnmatch_line("*test_service_started*")


def test_the_stdlibs_tracker_and_forkserver_are_not_leaks(pytester: pytest.Pytester) -> None:
    # The stdlib's multiprocessing starts them on first use and keeps them for the run:
    # the test that happened to start them has not leaked them (killed, the tracker
    # would leave the semaphores it was told of in /dev/shm).
    result = _run(
        pytester,
        """
import multiprocessing

def _noop():
    pass

def test_stdlib_services_started():
    ctx = multiprocessing.get_context("forkserver")
    lock = ctx.Lock()  # registered with the resource tracker
    p = ctx.Process(target=_noop)
    p.start()
    p.join()
    del lock

def test_services_still_running():
    from multiprocessing import forkserver, resource_tracker
    for pid in (resource_tracker._resource_tracker._pid, forkserver._forkserver._forkserver_pid):
        os.kill(pid, 0)  # alive: not reaped by the check
""",
    )
    result.assert_outcomes(passed=2)


def _run_xdist(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + body)
    return pytester.runpytest_subprocess("-q", "-p", "no:randomly", "-n", "1")


def test_under_xdist_a_segment_that_stays_fails_the_run(pytester: pytest.Pytester) -> None:
    name = f"/dev/shm/treadle-plugin-xdist-{os.getpid()}"
    result = _run_leaving_segment(pytester, name, "-n", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*segments leaked by the run*{os.path.basename(name)}*"])


def test_under_xdist_a_segment_removed_after_the_workers_end_is_no_leak(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a resource tracker does once the processes holding its pipe have ended: the
    # segment goes after the worker has exited, within the grace period.
    monkeypatch.setenv("TREADLE_LEAK_GRACE", "30")
    name = f"/dev/shm/treadle-plugin-xdist-late-{os.getpid()}"
    try:
        result = _run_xdist(
            pytester,
            f"""
@pytest.mark.leaks_ok("process", "fd", reason="a stand-in for a resource tracker")
def test_leaves_it_to_a_tracker():
    os.close(os.open({name!r}, os.O_CREAT | os.O_WRONLY, 0o600))
    r, w = os.pipe()
    # Removes the segment a while after its pipe says the worker (the last writer) ended.
    subprocess.Popen(
        [sys.executable, "-c", "import os, sys, time; os.read(int(sys.argv[1]), 1); "
         "time.sleep(1); os.unlink(sys.argv[2])", str(r), {name!r}],
        pass_fds=(r,), start_new_session=True,
    )
    os.close(r)
    KEEP.append(w)

KEEP = []
""",
        )
    finally:
        if os.path.exists(name):
            os.unlink(name)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
