"""Beyond the stdlib: tee=, kill_tree=."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import sys
import time
from typing import Any

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
    seen: list[tuple[str, bytes]] = []
    r = subprocess.run(
        [PY, "-c", TWO_STREAMS], tee=lambda name, data: seen.append((name, data)),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    assert {name for name, _ in seen} == {"stdout"}
    assert b"".join(data for _, data in seen) == r.stdout
    assert b"out1\n" in r.stdout
    assert b"err1\n" in r.stdout
    assert r.stdout.endswith(b" end\n")


def test_tee_callable_text_gets_lines() -> None:
    lines: list[tuple[str, str]] = []
    code = "import sys\nfor i in range(3): print('line', i, flush=True)\nsys.stdout.write('tail')"
    r = subprocess.run([PY, "-c", code], tee=lambda n, line: lines.append((n, line)), text=True)
    assert lines == [("stdout", f"line {i}\n") for i in range(3)] + [("stdout", "tail")]
    assert r.stdout == "line 0\nline 1\nline 2\ntail"


def test_tee_callable_tells_the_streams_apart() -> None:
    seen: dict[str, list[str]] = {"stdout": [], "stderr": []}
    r = subprocess.run(
        [PY, "-c", TWO_STREAMS], tee=lambda name, line: seen[name].append(line), text=True
    )
    assert seen == {"stdout": ["out1\n", "out2 end\n"], "stderr": ["err1\n"]}
    assert (r.stdout, r.stderr) == ("out1\nout2 end\n", "err1\n")


def test_tee_text_lines_translate_newlines_split_across_reads() -> None:
    # "\r" at the end of one read and "\n" at the start of the next make one newline.
    lines: list[str] = []
    release_r, release_w = os.pipe()
    code = f"import os; os.write(1, b'a\\r'); os.read({release_r}, 1); os.write(1, b'\\nb\\rc')"
    try:
        with subprocess.Popen(
            [PY, "-c", code], text=True, pass_fds=[release_r],
            tee=lambda name, line: lines.append(line),
        ) as p:  # fmt: skip
            partial = None
            while partial != b"a\r":  # until the first write has been read
                try:
                    p.communicate(timeout=0.01)
                except subprocess.TimeoutExpired as exc:
                    partial = exc.stdout
            assert lines == []  # "a\r" may still become "a\r\n"
            os.write(release_w, b"x")
            out, _ = p.communicate()
    finally:
        os.close(release_r)
        os.close(release_w)
    assert out == "a\nb\nc"
    assert lines == ["a\n", "b\n", "c"]


def test_tee_rejects_conflicting_streams() -> None:
    with pytest.raises(ValueError, match="tee"):
        subprocess.run(["true"], tee=True, stdout=subprocess.DEVNULL)
    with pytest.raises(ValueError, match="tee"):
        subprocess.Popen(["true"], tee=True, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("bad", [3, "no", None, b"yes"])
@pytest.mark.parametrize(
    "function", [subprocess.run, subprocess.call, subprocess.check_call, subprocess.check_output,
                 subprocess.Popen],
)  # fmt: skip
def test_tee_and_kill_tree_take_only_their_documented_types(bad: object, function: Any) -> None:
    with pytest.raises(TypeError, match="'tee' must be True, False or a callable"):
        function(["true"], tee=bad)
    if function is not subprocess.Popen:
        with pytest.raises(TypeError, match="'kill_tree' must be True or False, not"):
            function(["true"], kill_tree=bad)


@pytest.mark.parametrize("function", [subprocess.call, subprocess.check_call])
def test_call_and_check_call_tee_like_run(function: Any, capfd: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[str, bytes]] = []
    assert function([PY, "-c", TWO_STREAMS], tee=lambda n, d: seen.append((n, d))) == 0
    assert b"".join(d for n, d in seen if n == "stdout") == b"out1\nout2 end\n"
    assert b"".join(d for n, d in seen if n == "stderr") == b"err1\n"
    assert function([PY, "-c", TWO_STREAMS], tee=True) == 0
    assert capfd.readouterr() == ("out1\nout2 end\n", "err1\n")


def test_check_output_tee_like_run(capfd: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[str, str]] = []
    out = subprocess.check_output(
        [PY, "-c", TWO_STREAMS], text=True, tee=lambda n, line: seen.append((n, line))
    )
    assert out == "out1\nout2 end\n"
    assert [line for n, line in seen if n == "stdout"] == ["out1\n", "out2 end\n"]
    assert [line for n, line in seen if n == "stderr"] == ["err1\n"]
    assert subprocess.check_output([PY, "-c", TWO_STREAMS], tee=True) == b"out1\nout2 end\n"
    assert capfd.readouterr() == ("out1\nout2 end\n", "err1\n")


def test_call_kill_tree_on_timeout() -> None:
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.call(GRANDCHILD, shell=True, stdout=subprocess.PIPE, timeout=TREE_TIMEOUT,
                        kill_tree=True)  # fmt: skip
    assert _dies(int(info.value.stdout.split()[0]))


def test_tee_with_timeout_keeps_partial_output() -> None:
    seen: list[bytes] = []

    def keep(name: str, data: bytes) -> None:
        seen.append(data)

    # A shell, not Python: it writes within milliseconds even on a loaded machine, far
    # inside the timeout (the timeout is what the test is about, so it cannot be an event).
    with pytest.raises(subprocess.TimeoutExpired) as info:
        subprocess.run(["sh", "-c", "echo before; exec sleep 60"], tee=keep, timeout=3)
    assert info.value.stdout == b"before\n"
    assert b"".join(seen) == b"before\n"


def test_tee_inside_running_asyncio_loop() -> None:
    async def main() -> subprocess.CompletedProcess[bytes]:
        seen: list[tuple[str, bytes]] = []
        r = subprocess.run(["echo", "async"], tee=lambda n, d: seen.append((n, d)))
        assert seen == [("stdout", b"async\n")]
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
