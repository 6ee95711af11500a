"""Tools that hook the stdlib's ``threading`` see treadle's threads (issue 19).

pytest reports an exception that kills a thread through the stdlib's
``threading.excepthook``, and coverage.py reaches new threads through the stdlib's
``threading.settrace``. Both must work for threads started by ``treadle.threading`` and
for the workers of ``treadle.futures.ThreadPoolExecutor``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]


def test_pytest_warns_of_a_treadle_thread_that_crashed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_crash="""
        from treadle import threading

        def crash():
            raise ZeroDivisionError("in a treadle thread")

        def test_crash():
            t = threading.Thread(target=crash, name="crasher")
            t.start()
            t.join()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-W", "default")
    result.stdout.fnmatch_lines(
        [
            "*PytestUnhandledThreadExceptionWarning: Exception in thread crasher*",
            "*ZeroDivisionError: in a treadle thread*",
        ]
    )


def test_pytest_leaves_a_treadle_hook_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_own_hook="""
        from treadle import threading

        def test_own_hook(monkeypatch):
            seen = []
            monkeypatch.setattr(threading, "excepthook", seen.append)
            t = threading.Thread(target=lambda: 1 / 0)
            t.start()
            t.join()
            assert [args.exc_type for args in seen] == [ZeroDivisionError]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-W", "default")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*PytestUnhandledThreadExceptionWarning*")


_SCRIPT = """\
from treadle import futures, threading


def in_a_thread():
    ran = "thread"
    return ran


def in_a_pool_worker():
    ran = "pool"
    return ran


t = threading.Thread(target=in_a_thread)
t.start()
t.join()
with futures.ThreadPoolExecutor(max_workers=1) as pool:
    assert pool.submit(in_a_pool_worker).result() == "pool"
"""


def _line_of(text: str) -> int:
    return _SCRIPT.splitlines().index(text) + 1


def test_coverage_measures_code_run_in_treadle_threads(tmp_path: Path) -> None:
    script = tmp_path / "work.py"
    script.write_text(_SCRIPT, encoding="utf-8")
    env = dict(os.environ, COVERAGE_CORE="ctrace")  # the trace-function core, not sysmon
    env.pop("COVERAGE_PROCESS_START", None)
    env.pop("COVERAGE_RCFILE", None)

    def coverage(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "coverage", *args],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
            timeout=100,
        )

    coverage("run", "--rcfile=", "work.py")
    coverage("json", "--rcfile=", "-o", "report.json")
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    executed = set(report["files"]["work.py"]["executed_lines"])
    thread_line = _line_of('    ran = "thread"')
    pool_line = _line_of('    ran = "pool"')
    assert {thread_line, pool_line} <= executed, textwrap.shorten(str(sorted(executed)), 200)
