"""The convenience API: run, call, check_call, check_output, getoutput, list2cmdline.

``run`` also carries the opt-in extras: ``tee=`` and ``kill_tree=``.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import signal
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from ._errors import CalledProcessError, TimeoutExpired
from ._popen import PIPE, STDOUT, Popen, default_encoding

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


def _popen_class() -> type[Popen]:
    """Return the package's Popen, looked up at call time.

    Patching treadle.subprocess.Popen (as tests do with subprocess.Popen) then reaches
    run(), call() and check_output().
    """
    package = sys.modules.get(__name__.rpartition(".")[0])
    cls: type[Popen] = getattr(package, "Popen", Popen)
    return cls


# kill_tree: seconds between SIGTERM to the group and SIGKILL, and the deadline for
# draining pipes that a grandchild outside the group may still hold open.
KILL_GRACE = 1.0
DRAIN_DEADLINE = 1.0


class CompletedProcess:
    """What run() returns: ``args``, ``returncode``, ``stdout``, ``stderr``."""

    __module__ = "treadle.subprocess"
    __class_getitem__ = classmethod(types.GenericAlias)  # type: ignore[var-annotated]

    def __init__(self, args: Any, returncode: int, stdout: Any = None, stderr: Any = None) -> None:
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self) -> str:
        fields = [f"args={self.args!r}", f"returncode={self.returncode!r}"]
        if self.stdout is not None:
            fields.append(f"stdout={self.stdout!r}")
        if self.stderr is not None:
            fields.append(f"stderr={self.stderr!r}")
        return f"{type(self).__name__}({', '.join(fields)})"

    def check_returncode(self) -> None:
        """Raise CalledProcessError when returncode is not zero."""
        if self.returncode:
            raise CalledProcessError(self.returncode, self.args, self.stdout, self.stderr)


def call(*popenargs: Any, timeout: float | None = None, **kwargs: Any) -> int:
    """Run a command, wait for it, return its exit code (Popen's arguments)."""
    with _popen_class()(*popenargs, **kwargs) as p:
        try:
            return p.wait(timeout=timeout)
        except BaseException:
            p.kill()
            raise


def check_call(*popenargs: Any, **kwargs: Any) -> int:
    """Like call(), but raise CalledProcessError when the exit code is non-zero."""
    code = call(*popenargs, **kwargs)
    if code == 0:
        return 0
    # The command is reported as given: by keyword or as the first positional argument.
    given = kwargs["args"] if kwargs.get("args") is not None else popenargs[0]
    raise CalledProcessError(code, given)


def check_output(*popenargs: Any, timeout: float | None = None, **kwargs: Any) -> Any:
    """Run a command and return its standard output; non-zero exit raises CalledProcessError."""
    for name in ("stdout", "check"):
        if name in kwargs:
            raise ValueError(f"{name} argument not allowed, it will be overridden.")
    if "input" in kwargs and kwargs["input"] is None:
        # input=None here means "empty stdin", not "inherit the parent's".
        texty = (
            kwargs.get("universal_newlines")
            or kwargs.get("text")
            or kwargs.get("encoding")
            or kwargs.get("errors")
        )
        kwargs["input"] = "" if texty else b""
    return run(*popenargs, stdout=PIPE, timeout=timeout, check=True, **kwargs).stdout


def _make_tee(
    tee: Any, text: bool, encoding: str, errors: str | None
) -> Callable[[int, bytes], None]:
    """Build the per-chunk sink Popen._communicate calls with (1 or 2, bytes)."""
    decoders: dict[int, Any] = {}
    pending: dict[int, str] = {1: "", 2: ""}

    def parent_stream(n: int) -> Any:
        return sys.stdout if n == 1 else sys.stderr

    def sink(n: int, data: bytes) -> None:
        if text:
            dec = decoders.get(n)
            if dec is None:
                dec = decoders[n] = codecs.getincrementaldecoder(encoding)(errors or "strict")
            chunk: str = dec.decode(data)
            if tee is True:
                stream = parent_stream(n)
                stream.write(chunk)
                stream.flush()
                return
            # Whole lines to the callable; a partial line waits for the rest.
            buf = pending[n] + chunk
            lines = buf.splitlines(keepends=True)
            if lines and not lines[-1].endswith(("\n", "\r")):
                pending[n] = lines.pop()
            else:
                pending[n] = ""
            for line in lines:
                tee(line)
            return
        if tee is True:
            stream = parent_stream(n)
            target = getattr(stream, "buffer", None)
            if target is not None:
                stream.flush()
                target.write(data)
                target.flush()
            else:
                stream.write(data.decode(encoding, "replace"))
                stream.flush()
            return
        tee(data)

    def flush() -> None:
        for n, rest in pending.items():
            if rest and tee is not True:
                pending[n] = ""
                tee(rest)

    sink.flush = flush  # type: ignore[attr-defined]
    return sink


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _kill_tree(process: Popen) -> None:
    """SIGTERM the child's process group, SIGKILL it after the grace period."""
    pgid = process.pid
    _killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(TimeoutExpired):
        process.wait(timeout=KILL_GRACE)
    # Whatever is left in the group (grandchildren ignoring SIGTERM) goes now.
    _killpg(pgid, signal.SIGKILL)


def run(
    *popenargs: Any,
    input: Any = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    tee: bool | Callable[[Any], object] = False,
    kill_tree: bool = False,
    **kwargs: Any,
) -> CompletedProcess:
    """Run a command, wait for it to finish, return a CompletedProcess.

    The arguments are Popen's plus those of subprocess.run. Beyond the stdlib:

    * ``tee=True`` copies the child's stdout/stderr to the parent's ``sys.stdout`` /
      ``sys.stderr`` as it arrives, while still capturing it; ``tee=callable`` is called
      with each chunk (bytes) or, in text mode, each line instead. Streams left as None
      are captured as if PIPE had been given.
    * ``kill_tree=True`` starts the child in a new process group and, on timeout, sends
      SIGTERM to the whole group, then SIGKILL after a grace period; the pipes are then
      drained with a deadline, so a grandchild holding them cannot hang the call.
    """
    if input is not None and kwargs.get("stdin") is not None:
        raise ValueError("stdin and input arguments may not both be used.")
    if capture_output and (kwargs.get("stdout") is not None or kwargs.get("stderr") is not None):
        raise ValueError("stdout and stderr arguments may not be used with capture_output.")
    if input is not None:
        kwargs["stdin"] = PIPE
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = PIPE
    if tee is not False and tee is not None:
        if tee is not True and not callable(tee):
            raise TypeError(f"tee must be True, False or a callable, not {type(tee).__name__}")
        for name in ("stdout", "stderr"):
            value = kwargs.get(name)
            if value is None:
                kwargs[name] = PIPE
            elif value != PIPE and not (name == "stderr" and value == STDOUT):
                raise ValueError(f"tee=... needs {name} to be None or PIPE")
    else:
        tee = False
    if kill_tree:
        if kwargs.get("process_group") is None and not kwargs.get("start_new_session"):
            kwargs["process_group"] = 0
        if "process_group" in kwargs and kwargs["process_group"] not in (0, None):
            raise ValueError("kill_tree=True needs the child to lead its own process group")

    with _popen_class()(*popenargs, **kwargs) as process:
        sink = None
        if tee is not False:
            sink = _make_tee(
                tee, process.text_mode, process.encoding or default_encoding(), process.errors
            )
            process._tee = sink
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except TimeoutExpired as exc:
            if kill_tree:
                _kill_tree(process)
                exc.output, exc.stderr = _drain(process)
            else:
                process.kill()
            process.wait()
            exc.timeout = timeout
            raise
        except BaseException:
            if kill_tree:
                _killpg(process.pid, signal.SIGKILL)
            process.kill()
            raise
        finally:
            if sink is not None:
                sink.flush()  # type: ignore[attr-defined]
        code = process.poll()
        assert code is not None
        if check and code:
            raise CalledProcessError(code, process.args, output=stdout, stderr=stderr)
    return CompletedProcess(process.args, code, stdout, stderr)


def _drain(process: Popen) -> tuple[Any, Any]:
    """Collect what is left in the pipes after a tree kill, within DRAIN_DEADLINE.

    The result is bytes, as the stdlib's TimeoutExpired.output is, even in text mode.
    """
    with contextlib.suppress(TimeoutExpired, ValueError):
        process.communicate(timeout=DRAIN_DEADLINE)
    for f in (process.stdout, process.stderr):
        if f is not None:
            f.close()  # a process outside the group may still hold the other end
    return process._partial(process.stdout), process._partial(process.stderr)


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
