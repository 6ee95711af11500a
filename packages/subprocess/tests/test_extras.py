"""Beyond the stdlib: tee=, kill_tree=."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import time

import pytest

from treadle import subprocess
from treadle.subprocess import _api

PY = sys.executable
TWO_STREAMS = (
    "import sys\n"
    "sys.stdout.write('out1\\nout2'); sys.stdout.flush()\n"
    "sys.stderr.write('err1\\n'); sys.stderr.flush()\n"
    "sys.stdout.write(' end\\n')\n"
)


def test_tee_true_copies_and_captures(capfd: pytest.CaptureFixture[str]) -> None:
    r = subprocess.run([PY, "-c", TWO_STREAMS], tee=True)
    assert r.stdout == b"out1\nout2 end\n"
    assert r.stderr == b"err1\n"
    captured = capfd.readouterr()
    assert captured.out == "out1\nout2 end\n"
    assert captured.err == "err1\n"


def test_tee_true_text_mode(capsys: pytest.CaptureFixture[str]) -> None:
    r = subprocess.run([PY, "-c", TWO_STREAMS], tee=True, text=True)
    assert r.stdout == "out1\nout2 end\n"
    assert r.stderr == "err1\n"
    captured = capsys.readouterr()
    assert captured.out == "out1\nout2 end\n"
    assert captured.err == "err1\n"


def test_tee_callable_binary_gets_chunks() -> None:
    chunks: list[bytes] = []
    r = subprocess.run([PY, "-c", TWO_STREAMS], tee=chunks.append, stderr=subprocess.STDOUT)
    assert b"".join(chunks) == r.stdout
    assert b"out1\n" in r.stdout
    assert b"err1\n" in r.stdout
    assert r.stdout.endswith(b" end\n")


def test_tee_callable_text_gets_lines() -> None:
    lines: list[str] = []
    code = "import sys\nfor i in range(3): print('line', i, flush=True)\nsys.stdout.write('tail')"
    r = subprocess.run([PY, "-c", code], tee=lines.append, text=True)
    assert lines == ["line 0\n", "line 1\n", "line 2\n", "tail"]
    assert r.stdout == "line 0\nline 1\nline 2\ntail"


def test_tee_rejects_conflicting_streams() -> None:
    with pytest.raises(ValueError, match="tee"):
        subprocess.run(["true"], tee=True, stdout=subprocess.DEVNULL)
    with pytest.raises(TypeError, match="tee"):
        subprocess.run(["true"], tee=3)  # type: ignore[arg-type]


def test_tee_with_timeout_keeps_partial_output() -> None:
    seen: list[bytes] = []
    # A shell, not Python: it writes within milliseconds even on a loaded machine, far
    # inside the timeout (the timeout is what the test is about, so it cannot be an event).
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.run(["sh", "-c", "echo before; exec sleep 60"], tee=seen.append, timeout=3)
    assert info.value.stdout == b"before\n"
    assert b"".join(seen) == b"before\n"


def test_tee_inside_running_asyncio_loop() -> None:
    async def main() -> subprocess.CompletedProcess:
        seen: list[bytes] = []
        r = subprocess.run(["echo", "async"], tee=seen.append)
        assert seen == [b"async\n"]
        return r

    assert asyncio.run(main()).stdout == b"async\n"


def _dies(pid: int) -> bool:
    """Whether *pid* (not our child) exits within 10 s: pidfd where possible."""
    try:
        fd = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
    except ProcessLookupError:
        return True
    except (AttributeError, OSError):
        fd = None
    if fd is not None:
        try:
            return bool(select.select([fd], [], [], 10)[0])
        finally:
            os.close(fd)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(pid) or _is_zombie(pid):
            return True
        time.sleep(0.01)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


GRANDCHILD = (
    # The shell starts a sleeping grandchild that holds stdout, reports its pid, waits.
    "sleep 60 & echo $!; wait"
)
# Long enough for a shell to write its first line on a loaded machine: the output before
# the timeout is what these tests read.
TREE_TIMEOUT = 3


def test_kill_tree_kills_grandchild_holding_the_pipe() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.run(
            GRANDCHILD, shell=True, capture_output=True, timeout=TREE_TIMEOUT, kill_tree=True
        )
    exc = info.value
    assert exc.timeout == TREE_TIMEOUT
    grandchild = int(exc.stdout.split()[0])
    assert _dies(grandchild)


def test_kill_tree_grandchild_ignoring_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_api, "KILL_GRACE", 0.2)
    script = "trap '' TERM; sleep 60 & echo $!; wait"
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.run(
            script, shell=True, capture_output=True, text=True, timeout=TREE_TIMEOUT, kill_tree=True
        )
    grandchild = int(info.value.stdout.split()[0])
    assert _dies(grandchild)


def test_kill_tree_escaped_grandchild_cannot_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    # A grandchild in its own session is outside the group: the drain gives up on the pipe.
    monkeypatch.setattr(_api, "DRAIN_DEADLINE", 0.3)
    script = "setsid sleep 60 & echo $!; wait"
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.run(
            script, shell=True, stdout=subprocess.PIPE, timeout=TREE_TIMEOUT, kill_tree=True
        )
    escaped = int(info.value.stdout.split()[0])
    assert _alive(escaped)  # it really escaped, and run() returned anyway
    os.kill(escaped, signal.SIGKILL)


def test_kill_tree_normal_exit_and_group() -> None:
    r = subprocess.run([PY, "-c", "import os; print(os.getpgid(0) == os.getpid())"],
                       capture_output=True, text=True, timeout=30, kill_tree=True)  # fmt: skip
    assert r.stdout == "True\n"
    with pytest.raises(ValueError, match="kill_tree"):
        subprocess.run(["true"], kill_tree=True, process_group=os.getpgid(0))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
