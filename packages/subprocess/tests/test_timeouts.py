"""One timeout rule for wait(), communicate() and run(timeout=), on both implementations.

The stdlib accepts any real number (and a bool, which its arithmetic takes as 0 or 1
second) and refuses anything else with a TypeError: treadle does the same through
treadle.thread_core.support.check_timeout, and refuses NaN as well.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

from treadle import subprocess

PY = sys.executable
WAITS_FOR_STDIN = [PY, "-c", "import sys; sys.stdin.read()"]


@pytest.fixture
def running(impl: Any) -> Iterator[Any]:
    """A child that runs until its stdin is closed."""
    p = impl.Popen(WAITS_FOR_STDIN, stdin=impl.PIPE)
    try:
        yield p
    finally:
        p.stdin.close()
        p.wait()


def test_wait_accepts_any_real_number_and_bool(impl: Any) -> None:
    with impl.Popen(["true"]) as p:
        assert p.wait() == 0
        for timeout in (0, 1, 2.5, -1, True, False, 10**20):
            assert p.wait(timeout=timeout) == 0


@pytest.mark.parametrize("bad", ["1", b"1", [1], object()])
def test_bad_timeout_types_are_type_errors(impl: Any, bad: object) -> None:
    with impl.Popen(["true"]) as p:
        p.wait()
        with pytest.raises(TypeError):
            p.wait(timeout=bad)
    with impl.Popen(WAITS_FOR_STDIN, stdin=impl.PIPE, stdout=impl.PIPE) as p:
        with pytest.raises(TypeError):
            p.communicate(timeout=bad)
        p.stdin.close()
    with pytest.raises(TypeError):
        impl.run(["true"], timeout=bad)


def test_zero_and_negative_timeouts_do_not_wait(impl: Any, running: Any) -> None:
    for timeout in (0, -1, -0.5):
        with pytest.raises(impl.TimeoutExpired) as info:
            running.wait(timeout=timeout)
        assert info.value.timeout == timeout


def test_communicate_timeout_reports_the_callers_value(impl: Any) -> None:
    with impl.Popen(WAITS_FOR_STDIN, stdin=impl.PIPE, stdout=impl.PIPE) as p:
        with pytest.raises(impl.TimeoutExpired) as info:
            p.communicate(timeout=0)  # closes stdin (no input): the child then exits
        assert info.value.timeout == 0
        assert p.communicate() == (b"", None)


def test_communicate_resumed_after_a_timeout_sends_the_saved_input() -> None:
    # The stdlib before 3.14 (gh-141473) never writes input saved by a call that timed
    # out, so the child below would wait for it for ever: treadle only.
    echo = [PY, "-c", "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read())"]
    with subprocess.Popen(echo, stdin=subprocess.PIPE, stdout=subprocess.PIPE) as p:
        with pytest.raises(subprocess.TimeoutExpired):
            p.communicate(b"partial input", timeout=0)
        result: tuple[Any, Any] = p.communicate()  # (stderr is None: not a pipe)
    assert (*result, p.returncode) == (b"partial input", None, 0)


@pytest.mark.stdlib_differs("the stdlib takes NaN as a timeout that never expires")
def test_nan_timeout_is_refused(impl: Any) -> None:
    with impl.Popen(["true"]) as p:
        p.wait()
        with pytest.raises(ValueError, match="timeout"):
            p.wait(timeout=float("nan"))


def test_treadle_messages_name_the_argument() -> None:
    with pytest.raises(TypeError, match="'timeout' must be a real number or None, not str"):
        subprocess.run(["true"], timeout="1")  # type: ignore[call-overload]
    with subprocess.Popen(["true"]) as p:
        with pytest.raises(TypeError, match="'timeout' must be a real number or None, not list"):
            p.wait(timeout=[1])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="'timeout' must not be NaN"):
            p.communicate(timeout=float("nan"))


def test_run_checks_the_timeout_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    with pytest.raises(TypeError, match="timeout"):
        subprocess.run(["true"], timeout="soon")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="timeout"):
        subprocess.check_output(["true"], timeout="soon")  # type: ignore[call-overload]
    assert started == []
