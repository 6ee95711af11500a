"""Type tests of treadle.subprocess: str or bytes as typeshed gives them for the stdlib."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from treadle import subprocess

CMD = ["echo", "hi"]

# run(): CompletedProcess[bytes] by default, [str] once any text-mode argument says so.
assert_type(subprocess.run(CMD), subprocess.CompletedProcess[bytes])
assert_type(subprocess.run(CMD, capture_output=True).stdout, bytes)
assert_type(subprocess.run(CMD, text=True), subprocess.CompletedProcess[str])
assert_type(subprocess.run(CMD, encoding="utf-8"), subprocess.CompletedProcess[str])
assert_type(subprocess.run(CMD, errors="replace"), subprocess.CompletedProcess[str])
assert_type(subprocess.run(CMD, universal_newlines=True), subprocess.CompletedProcess[str])
assert_type(subprocess.run(CMD, input=b"x", timeout=1.5), subprocess.CompletedProcess[bytes])
assert_type(subprocess.run(CMD, input=memoryview(b"x")), subprocess.CompletedProcess[bytes])
assert_type(subprocess.run(CMD, input="x", text=True).stdout, str)
flag: bool = bool(CMD)
assert_type(subprocess.run(CMD, text=flag), subprocess.CompletedProcess[Any])

# check_output(): bytes or str.
assert_type(subprocess.check_output(CMD), bytes)
assert_type(subprocess.check_output(CMD, text=True), str)
assert_type(subprocess.check_output(CMD, encoding="latin-1", input="x"), str)
assert_type(subprocess.check_output(CMD, input=b"data", timeout=2), bytes)

# call() and check_call(): the exit code.
assert_type(subprocess.call(CMD, timeout=1), int)
assert_type(subprocess.check_call(CMD, text=True), int)

# Popen[bytes] / Popen[str], and what communicate() returns.
with subprocess.Popen(CMD, stdout=subprocess.PIPE) as p:
    assert_type(p, subprocess.Popen[bytes])
    assert_type(p.communicate(), tuple[bytes, bytes])
    assert_type(p.wait(timeout=1), int)
    assert_type(p.poll(), int | None)
with subprocess.Popen(CMD, stdout=subprocess.PIPE, text=True) as t:
    assert_type(t, subprocess.Popen[str])
    assert_type(t.communicate("input"), tuple[str, str])
assert_type(subprocess.Popen(CMD, encoding="utf-8"), subprocess.Popen[str])


# treadle's keywords: tee's callable gets (stream name, bytes) or (stream name, line).
def on_bytes(name: str, data: bytes) -> None:  # noqa: D103
    ...


def on_text(name: str, line: str) -> None:  # noqa: D103
    ...


assert_type(subprocess.run(CMD, tee=on_bytes, kill_tree=True), subprocess.CompletedProcess[bytes])
assert_type(subprocess.run(CMD, tee=on_text, text=True), subprocess.CompletedProcess[str])
assert_type(subprocess.check_output(CMD, tee=True), bytes)
assert_type(subprocess.call(CMD, tee=on_bytes, kill_tree=False), int)
assert_type(subprocess.Popen(CMD, tee=on_text, text=True), subprocess.Popen[str])

# What must fail. (As with typeshed's overloads, a call mixing str and bytes - text input
# in binary mode, a bytes tee callable in text mode - falls through to the last overload,
# whose types are only known at run time, so it is not an error.)
subprocess.run(CMD, input=3)  # type: ignore[call-overload]
subprocess.run(CMD, tee="yes")  # type: ignore[call-overload]
subprocess.check_output(CMD, tee=on_bytes, input=3)  # type: ignore[call-overload]
subprocess.run(CMD, kill_tree="no")  # type: ignore[call-overload]
subprocess.run(CMD, timeout="soon")  # type: ignore[call-overload]
subprocess.call(CMD, capture_output=True)  # type: ignore[call-overload]
subprocess.Popen(CMD, stdout=object())  # type: ignore[call-overload]
subprocess.Popen(CMD).communicate("text to a bytes Popen")  # type: ignore[arg-type]
