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


def test_leaked_segment_fails(pytester: pytest.Pytester) -> None:
    name = f"/dev/shm/treadle-plugin-test-{os.getpid()}"
    try:
        result = _run(
            pytester,
            f"""
def test_leaks():
    os.close(os.open({name!r}, os.O_CREAT | os.O_WRONLY, 0o600))
""",
        )
    finally:
        if os.path.exists(name):
            os.unlink(name)
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
