"""The convenience API: run, call, check_call, check_output, getoutput, list2cmdline.

``run`` (and so call, check_call and check_output, which go through it) also carries
the opt-in extras: ``tee=`` (handed to Popen) and ``kill_tree=``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterable
from types import GenericAlias
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

from . import _checks
from ._communicate import captured
from ._errors import CalledProcessError, TimeoutExpired
from ._fds import PIPE, STDOUT
from ._popen import Popen

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ._types import CMD, CallKeywords, InputBytes, RunKeywords, TeeArg

__all__ = [
    "CompletedProcess",
    "call",
    "check_call",
    "check_output",
    "getoutput",
    "getstatusoutput",
    "list2cmdline",
    "run",
]

_T = TypeVar("_T")
_PACKAGE = __name__.rpartition(".")[0]


def _popen_class() -> type[Popen[Any]]:
    """Return the package's Popen, looked up at call time.

    Patching treadle.subprocess.Popen (as tests do with subprocess.Popen) then reaches
    run(), call(), check_call() and check_output().
    """
    cls: type[Popen[Any]] = getattr(sys.modules.get(_PACKAGE), "Popen", Popen)
    return cls


# kill_tree: seconds between SIGTERM to the group and SIGKILL, and the deadline for
# draining pipes that a grandchild outside the group may still hold open.
KILL_GRACE = 1.0
DRAIN_DEADLINE = 1.0


class CompletedProcess(Generic[_T]):
    """What run() returns: ``args``, ``returncode``, ``stdout``, ``stderr``.

    ``stdout``/``stderr`` are str in text mode, bytes otherwise, None when not captured.
    """

    args: Any
    returncode: int
    stdout: _T
    stderr: _T

    def __init__(self, args: Any, returncode: int, stdout: Any = None, stderr: Any = None) -> None:
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(GenericAlias)

    def __repr__(self) -> str:
        shown = [f"args={self.args!r}", f"returncode={self.returncode!r}"]
        captured = (("stdout", self.stdout), ("stderr", self.stderr))
        shown += [f"{name}={value!r}" for name, value in captured if value is not None]
        return f"{type(self).__name__}({', '.join(shown)})"

    def check_returncode(self) -> None:
        """Raise CalledProcessError when returncode is not zero."""
        if self.returncode:
            raise CalledProcessError(self.returncode, self.args, self.stdout, self.stderr)


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _end_tree(process: Popen[Any]) -> None:
    """SIGTERM the child's process group, SIGKILL what is left after the grace period."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(TimeoutExpired):
        process.wait(timeout=KILL_GRACE)
    _signal_group(process.pid, signal.SIGKILL)  # grandchildren ignoring SIGTERM


def _drain(process: Popen[Any]) -> tuple[bytes | None, bytes | None]:
    """Collect what is left in the pipes after a tree kill, within DRAIN_DEADLINE.

    The result is bytes, as the stdlib's TimeoutExpired.output is, even in text mode.
    """
    with contextlib.suppress(TimeoutExpired, ValueError):
        process.communicate(timeout=DRAIN_DEADLINE)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()  # a process outside the group may still hold the other end
    return captured(process)


def _talk(process: Popen[Any], input: Any, timeout: Any, kill_tree: bool) -> tuple[Any, Any]:
    """communicate(); on a timeout or any other exception, stop the child first."""
    try:
        return process.communicate(input, timeout=timeout)
    except TimeoutExpired as expired:
        if kill_tree:
            _end_tree(process)
            expired.output, expired.stderr = _drain(process)
        else:
            process.kill()
        process.wait()
        expired.timeout = timeout
        raise
    except BaseException:
        if kill_tree:
            _signal_group(process.pid, signal.SIGKILL)
        process.kill()
        raise


@overload  # text=True
def run(
    args: CMD,
    *,
    text: Literal[True],
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[RunKeywords],
) -> CompletedProcess[str]: ...
@overload  # encoding given
def run(
    args: CMD,
    *,
    encoding: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    errors: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[RunKeywords],
) -> CompletedProcess[str]: ...
@overload  # errors given
def run(
    args: CMD,
    *,
    errors: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[RunKeywords],
) -> CompletedProcess[str]: ...
@overload  # universal_newlines=True
def run(
    args: CMD,
    *,
    universal_newlines: Literal[True],
    text: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[RunKeywords],
) -> CompletedProcess[str]: ...
@overload  # binary
def run(
    args: CMD,
    *,
    text: Literal[False] | None = None,
    universal_newlines: Literal[False] | None = None,
    encoding: None = None,
    errors: None = None,
    input: InputBytes | None = None,
    tee: TeeArg[bytes] = False,
    **kwargs: Unpack[RunKeywords],
) -> CompletedProcess[bytes]: ...
@overload  # either, unknown until run time
def run(
    args: CMD,
    *,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    input: str | InputBytes | None = None,
    tee: TeeArg[Any] = False,
    **kwargs: Unpack[RunKeywords],
) -> CompletedProcess[Any]: ...
def run(
    *popenargs: Any,
    input: Any = None,
    capture_output: bool = False,
    timeout: Any = None,
    check: bool = False,
    tee: Any = False,
    kill_tree: Any = False,
    **kwargs: Any,
) -> CompletedProcess[Any]:
    """Run a command, wait for it to finish, return a CompletedProcess.

    The arguments are Popen's plus those of subprocess.run. Beyond the stdlib:

    * ``tee=True`` copies the child's stdout/stderr to the parent's ``sys.stdout`` /
      ``sys.stderr`` as it arrives, while still capturing it; ``tee=callable`` calls
      ``callable(name, data)`` instead, with ``name`` ``"stdout"`` or ``"stderr"`` and
      ``data`` each chunk (bytes) or, in text mode, each line. Streams left as None are
      captured as if PIPE had been given (see Popen's ``tee``).
    * ``kill_tree=True`` starts the child in a new process group and, on timeout, sends
      SIGTERM to the whole group, then SIGKILL after a grace period; the pipes are then
      drained with a deadline, so a grandchild holding them cannot hang the call.
    """
    if timeout is not None:
        _checks.timeout_seconds(timeout)  # a bad timeout fails before anything starts
    if kill_tree is not False:
        kill_tree = _checks.check_flag(kill_tree, "kill_tree")
    if input is not None:
        if kwargs.get("stdin") is not None:
            raise ValueError("stdin and input arguments may not both be used.")
        kwargs["stdin"] = PIPE
    if capture_output:
        if kwargs.get("stdout") is not None or kwargs.get("stderr") is not None:
            raise ValueError("stdout and stderr arguments may not be used with capture_output.")
        kwargs["stdout"] = kwargs["stderr"] = PIPE
    if tee is not False:
        kwargs["tee"] = tee
    if kill_tree:
        group = kwargs.get("process_group")
        if group not in (0, None):
            raise ValueError("kill_tree=True needs the child to lead its own process group")
        if group is None and not kwargs.get("start_new_session"):
            kwargs["process_group"] = 0
    with _popen_class()(*popenargs, **kwargs) as process:
        stdout, stderr = _talk(process, input, timeout, kill_tree)
        code = process.poll()
        assert code is not None
    if check and code:
        raise CalledProcessError(code, process.args, output=stdout, stderr=stderr)
    return CompletedProcess(process.args, code, stdout, stderr)


@overload  # text=True
def call(
    args: CMD,
    *,
    text: Literal[True],
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # encoding given
def call(
    args: CMD,
    *,
    encoding: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    errors: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # errors given
def call(
    args: CMD,
    *,
    errors: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # universal_newlines=True
def call(
    args: CMD,
    *,
    universal_newlines: Literal[True],
    text: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # binary
def call(
    args: CMD,
    *,
    text: Literal[False] | None = None,
    universal_newlines: Literal[False] | None = None,
    encoding: None = None,
    errors: None = None,
    tee: TeeArg[bytes] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # either, unknown until run time
def call(
    args: CMD,
    *,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    tee: TeeArg[Any] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
def call(*popenargs: Any, timeout: Any = None, **kwargs: Any) -> int:
    """Run a command, wait for it, return its exit code (Popen's arguments).

    The child's pipes, if any, are read while it runs, so none can fill up; ``tee=``
    and ``kill_tree=`` work as with run().
    """
    for own in ("input", "capture_output", "check"):  # run()'s, not call()'s
        if own in kwargs:
            raise TypeError(f"call() got an unexpected keyword argument {own!r}")
    return run(*popenargs, timeout=timeout, **kwargs).returncode


@overload  # text=True
def check_call(
    args: CMD,
    *,
    text: Literal[True],
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # encoding given
def check_call(
    args: CMD,
    *,
    encoding: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    errors: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # errors given
def check_call(
    args: CMD,
    *,
    errors: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # universal_newlines=True
def check_call(
    args: CMD,
    *,
    universal_newlines: Literal[True],
    text: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # binary
def check_call(
    args: CMD,
    *,
    text: Literal[False] | None = None,
    universal_newlines: Literal[False] | None = None,
    encoding: None = None,
    errors: None = None,
    tee: TeeArg[bytes] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
@overload  # either, unknown until run time
def check_call(
    args: CMD,
    *,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    tee: TeeArg[Any] = False,
    **kwargs: Unpack[CallKeywords],
) -> int: ...
def check_call(*popenargs: Any, **kwargs: Any) -> int:
    """Like call(), but raise CalledProcessError when the exit code is non-zero."""
    code = call(*popenargs, **kwargs)
    if code:
        # The command as given: by keyword, or as the first positional argument.
        given = kwargs.get("args")
        raise CalledProcessError(code, popenargs[0] if given is None else given)
    return 0


@overload  # text=True
def check_output(
    args: CMD,
    *,
    text: Literal[True],
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> str: ...
@overload  # encoding given
def check_output(
    args: CMD,
    *,
    encoding: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    errors: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> str: ...
@overload  # errors given
def check_output(
    args: CMD,
    *,
    errors: str,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> str: ...
@overload  # universal_newlines=True
def check_output(
    args: CMD,
    *,
    universal_newlines: Literal[True],
    text: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    input: str | None = None,
    tee: TeeArg[str] = False,
    **kwargs: Unpack[CallKeywords],
) -> str: ...
@overload  # binary
def check_output(
    args: CMD,
    *,
    text: Literal[False] | None = None,
    universal_newlines: Literal[False] | None = None,
    encoding: None = None,
    errors: None = None,
    input: InputBytes | None = None,
    tee: TeeArg[bytes] = False,
    **kwargs: Unpack[CallKeywords],
) -> bytes: ...
@overload  # either, unknown until run time
def check_output(
    args: CMD,
    *,
    text: bool | None = None,
    universal_newlines: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    input: str | InputBytes | None = None,
    tee: TeeArg[Any] = False,
    **kwargs: Unpack[CallKeywords],
) -> Any: ...
def check_output(*popenargs: Any, timeout: Any = None, **kwargs: Any) -> Any:
    """Run a command and return its standard output; non-zero exit raises CalledProcessError."""
    for overridden in ("stdout", "check"):
        if overridden in kwargs:
            raise ValueError(f"{overridden} argument not allowed, it will be overridden.")
    if "input" in kwargs and kwargs["input"] is None:
        # Here input=None means "empty stdin", not "the parent's".
        modes = ("text", "universal_newlines", "encoding", "errors")
        wants_text = any(kwargs.get(mode) for mode in modes)
        kwargs["input"] = "" if wants_text else b""
    return run(*popenargs, stdout=PIPE, timeout=timeout, check=True, **kwargs).stdout


def list2cmdline(seq: Iterable[Any]) -> str:
    """Join arguments into one Windows command line (MS C runtime quoting rules)."""
    parts: list[str] = []
    for arg in (os.fsdecode(item) for item in seq):
        quote = not arg or " " in arg or "\t" in arg
        out: list[str] = ['"'] if quote else []
        slashes = 0
        for ch in arg:
            if ch == "\\":
                slashes += 1
                continue
            if ch == '"':
                # Backslashes before a quote are doubled, and the quote escaped.
                out.append("\\" * (2 * slashes + 1) + '"')
            else:
                out.append("\\" * slashes + ch)
            slashes = 0
        if quote:
            out.append("\\" * (2 * slashes) + '"')
        else:
            out.append("\\" * slashes)
        parts.append("".join(out))
    return " ".join(parts)


def getstatusoutput(
    cmd: Any, *, encoding: str | None = None, errors: str | None = None
) -> tuple[int, str]:
    """Run *cmd* in a shell; return (exit code, output with stderr, last newline stripped)."""
    done = run(
        cmd, shell=True, text=True, stdout=PIPE, stderr=STDOUT, encoding=encoding, errors=errors
    )
    out: str = done.stdout
    return done.returncode, out.removesuffix("\n")


def getoutput(cmd: Any, *, encoding: str | None = None, errors: str | None = None) -> str:
    """Run *cmd* in a shell and return its output (stdout and stderr), as getstatusoutput."""
    _, output = getstatusoutput(cmd, encoding=encoding, errors=errors)
    return output
