"""run, call, check_call, check_output, getoutput, CompletedProcess, the exceptions."""

from __future__ import annotations

import signal
import subprocess as std
import sys
from pathlib import Path
from typing import Any

import pytest

from treadle import subprocess

PY = sys.executable


def test_completed_process_and_exception_classes() -> None:
    assert (
        repr(subprocess.CompletedProcess(["x"], 0)) == "CompletedProcess(args=['x'], returncode=0)"
    )
    assert issubclass(subprocess.CalledProcessError, subprocess.SubprocessError)
    assert issubclass(subprocess.TimeoutExpired, subprocess.SubprocessError)


def test_run_capture_and_check(impl: Any) -> None:
    r = impl.run([PY, "-c", "import sys; print('out'); print('err', file=sys.stderr)"],
                       capture_output=True)  # fmt: skip
    assert (r.returncode, r.stdout, r.stderr) == (0, b"out\n", b"err\n")
    assert "stdout=b'out\\n'" in repr(r)
    r.check_returncode()
    with pytest.raises(impl.CalledProcessError) as info:
        impl.run([PY, "-c", "import sys; print('x'); sys.exit(3)"], capture_output=True,
                       check=True)  # fmt: skip
    err = info.value
    assert (err.returncode, err.stdout, err.output) == (3, b"x\n", b"x\n")
    assert str(err).endswith("returned non-zero exit status 3.")


def test_run_input_text_and_encoding(impl: Any) -> None:
    code = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    r = impl.run([PY, "-c", code], input="abc\r\ndef", capture_output=True, text=True)
    assert r.stdout == "ABC\nDEF"
    r = impl.run([PY, "-c", code], input=b"xyz", stdout=impl.PIPE)
    assert r.stdout == b"XYZ"
    assert r.stderr is None
    r = impl.run([PY, "-c", "import sys; sys.stdout.buffer.write(b'\\xe9')"],
                       capture_output=True, encoding="latin-1")  # fmt: skip
    assert r.stdout == "\xe9"


def test_run_argument_conflicts(impl: Any) -> None:
    with pytest.raises(ValueError, match="stdin and input"):
        impl.run(["true"], input=b"", stdin=impl.DEVNULL)
    with pytest.raises(ValueError, match="capture_output"):
        impl.run(["true"], capture_output=True, stdout=impl.DEVNULL)
    with pytest.raises(ValueError, match="stdout argument not allowed"):
        impl.check_output(["true"], stdout=impl.PIPE)


@pytest.mark.stdlib_since((3, 11), "check_output(check=...) is a TypeError from run() before")
def test_check_output_refuses_check(impl: Any) -> None:
    with pytest.raises(ValueError, match="check argument not allowed"):
        impl.check_output(["true"], check=False)


def test_run_timeout_reports_callers_timeout(impl: Any) -> None:
    with pytest.raises(impl.TimeoutExpired) as info:
        # A shell writes within milliseconds even on a loaded machine, far inside the timeout.
        impl.run(["sh", "-c", "echo early; exec sleep 60"],
                       capture_output=True, timeout=2.5)  # fmt: skip
    assert info.value.timeout == 2.5
    assert info.value.stdout == b"early\n"
    assert str(info.value).endswith("timed out after 2.5 seconds")


def test_call_and_check_call(impl: Any) -> None:
    assert impl.call([PY, "-c", "raise SystemExit(4)"]) == 4
    assert impl.check_call(["true"]) == 0
    with pytest.raises(impl.CalledProcessError) as info:
        impl.check_call(["false"])
    assert info.value.cmd == ["false"]
    with pytest.raises(impl.TimeoutExpired):
        impl.call([PY, "-c", "import time; time.sleep(60)"], timeout=0.2)


def test_check_output_variants(impl: Any) -> None:
    assert impl.check_output(["echo", "hi"]) == b"hi\n"
    assert impl.check_output("echo $0", shell=True, text=True).strip() == "/bin/sh"
    assert impl.check_output([PY, "-c", "import sys; print(repr(sys.stdin.read()))"],
                                   input=None, text=True) == "''\n"  # fmt: skip
    assert impl.check_output(["cat"], input=b"data") == b"data"


@pytest.mark.stdlib_since((3, 11), "getoutput()'s encoding and errors are new in 3.11")
def test_getoutput_and_getstatusoutput(impl: Any) -> None:
    assert impl.getstatusoutput("echo one; echo two >&2; exit 5") == (5, "one\ntwo")
    assert impl.getoutput("printf '\\351'", encoding="latin-1") == "\xe9"
    assert impl.getoutput("printf '\\377'", errors="replace") == "\ufffd"


def test_called_process_error_str() -> None:
    e = subprocess.CalledProcessError(-int(signal.SIGTERM), ["x"])
    assert str(e) == "Command '['x']' died with <Signals.SIGTERM: 15>."
    assert "unknown signal 999" in str(subprocess.CalledProcessError(-999, "x"))
    assert "exit status None" in str(subprocess.CalledProcessError(None, "x"))  # type: ignore[arg-type]
    e.stdout = b"o"
    assert e.output == b"o"
    t = subprocess.TimeoutExpired("cmd", 2, output=b"p", stderr=b"q")
    assert (t.stdout, t.stderr, t.timeout) == (b"p", b"q", 2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["a b", "c"], '"a b" c'),
        (['a"b'], 'a\\"b'),
        (["ab\\\\", "x y\\"], 'ab\\\\ "x y\\\\"'),
        (['a\\\\"b'], 'a\\\\\\\\\\"b'),
        ([""], '""'),
        (["\t"], '"\t"'),
        ([b"by", Path("p q")], 'by "p q"'),
    ],
)
def test_list2cmdline_matches_stdlib(args: list[object], expected: str) -> None:
    assert subprocess.list2cmdline(args) == expected == std.list2cmdline(args)  # type: ignore[arg-type]


def test_generic_aliases() -> None:
    popen: Any = subprocess.Popen
    completed: Any = subprocess.CompletedProcess
    assert popen[bytes].__origin__ is subprocess.Popen
    assert completed[str].__origin__ is subprocess.CompletedProcess


def test_interpreter_flag_helpers() -> None:
    args = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]
    assert args == std._args_from_interpreter_flags()  # type: ignore[attr-defined]
    assert subprocess._optim_args_from_interpreter_flags() == []  # type: ignore[attr-defined]
    code = (
        "import subprocess as std; from treadle import subprocess as s; "
        "a = s._args_from_interpreter_flags(); print(a == std._args_from_interpreter_flags(), a)"
    )
    out = subprocess.check_output(
        [PY, "-X", "utf8", "-O", "-W", "ignore::DeprecationWarning", "-c", code], text=True
    )
    assert out.startswith("True [")
    assert "'-O', " in out
    assert "'-Wignore::DeprecationWarning', '-X', 'utf8']" in out


def test_encoding_warning_points_at_the_caller() -> None:
    code = (
        "from treadle.subprocess import run, check_output\n"
        "run('echo hello', shell=True, text=True, stdout=-3)\n"
        "check_output('echo hello', shell=True, text=True)\n"
        "run('echo hello', shell=True, text=True, encoding='utf-8', stdout=-3)\n"
    )
    r = subprocess.run([PY, "-X", "warn_default_encoding", "-c", code], capture_output=True)
    lines = [ln for ln in r.stderr.splitlines() if b"EncodingWarning" in ln]
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(b"<string>:2: EncodingWarning: ")
    assert lines[1].startswith(b"<string>:3: EncodingWarning: ")


def test_preexec_fn_refused_at_interpreter_shutdown() -> None:
    code = (
        "from treadle import subprocess\n"
        "class AtExit:\n"
        "    def __del__(self):\n"
        "        print('OK')\n"
        "        subprocess.Popen(['true'], preexec_fn=lambda: None)\n"
        "        print('not reached')\n"
        "keep = AtExit()\n"
    )
    r = subprocess.run([PY, "-c", code], capture_output=True)
    assert r.stdout == b"OK\n"
    assert b"preexec_fn not supported at interpreter shutdown" in r.stderr
