"""Popen: start a child process, talk to it through pipes, wait for it (POSIX).

The class ties together the package's parts: argument checks (``_checks``), user and
group resolution (``_credentials``), descriptor plumbing (``_fds``), spawning
(``_spawn``), reaping (``_reap``) and communicate (``_communicate``, ``_tee``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import GenericAlias
from typing import IO, TYPE_CHECKING, Any, AnyStr, Generic, Literal, overload

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

    from ._types import CMD, PopenKeywords, TeeArg

from treadle.threading import Lock

from . import _checks, _credentials, _native, _reap, _spawn
from ._communicate import Exchange, feed_and_close, read_to_eof
from ._errors import TimeoutExpired
from ._fds import NO_ENDS, PIPE, STDOUT, Plumbing, parent_stream
from ._tee import Tee

__all__ = ["Popen", "text_encoding"]

_INTERRUPT_GRACE = 0.25  # seconds a Ctrl-C'd wait gives the child, which got it too
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def text_encoding() -> str:
    """Return the default encoding of text pipes; warn under ``-X warn_default_encoding``.

    The EncodingWarning points at the first caller outside treadle.subprocess, as the
    stdlib's points at the caller of its function.
    """
    if getattr(sys.flags, "warn_default_encoding", 0):
        depth = 1
        while (frame := _native.caller_frame(depth)) is not None and (
            os.path.dirname(frame.f_code.co_filename) == _PACKAGE_DIR
        ):
            depth += 1
        warnings.warn("'encoding' argument not specified.", EncodingWarning, stacklevel=depth + 1)
    return _native.default_encoding()


class Popen(Generic[AnyStr]):
    """Execute a child program in a new process, with the 3.14 ``subprocess.Popen`` API.

    Every POSIX argument of :class:`subprocess.Popen` is accepted with the same meaning
    and default. Beyond the stdlib, ``tee=True`` copies what :meth:`communicate` reads
    to the parent's ``sys.stdout``/``sys.stderr`` as it arrives, and ``tee=callable``
    calls ``callable(name, data)`` instead (``name`` is ``"stdout"`` or ``"stderr"``;
    ``data`` a chunk of bytes, or a line in text mode); streams left as None are then
    captured as if PIPE had been given.
    """

    args: Any
    stdin: IO[AnyStr] | None
    stdout: IO[AnyStr] | None
    stderr: IO[AnyStr] | None
    pid: int
    returncode: int | Any

    _child_created = False  # read by __del__, also when __init__ failed early
    _exchange: Exchange | None = None
    _tee: Tee | None = None

    @overload  # text=True
    def __init__(
        self: Popen[str],
        args: CMD,
        *,
        text: Literal[True],
        universal_newlines: bool | None = None,
        encoding: str | None = None,
        errors: str | None = None,
        tee: TeeArg[str] = False,
        **kwargs: Unpack[PopenKeywords],
    ) -> None: ...
    @overload  # encoding given
    def __init__(
        self: Popen[str],
        args: CMD,
        *,
        encoding: str,
        text: bool | None = None,
        universal_newlines: bool | None = None,
        errors: str | None = None,
        tee: TeeArg[str] = False,
        **kwargs: Unpack[PopenKeywords],
    ) -> None: ...
    @overload  # errors given
    def __init__(
        self: Popen[str],
        args: CMD,
        *,
        errors: str,
        text: bool | None = None,
        universal_newlines: bool | None = None,
        encoding: str | None = None,
        tee: TeeArg[str] = False,
        **kwargs: Unpack[PopenKeywords],
    ) -> None: ...
    @overload  # universal_newlines=True
    def __init__(
        self: Popen[str],
        args: CMD,
        *,
        universal_newlines: Literal[True],
        text: bool | None = None,
        encoding: str | None = None,
        errors: str | None = None,
        tee: TeeArg[str] = False,
        **kwargs: Unpack[PopenKeywords],
    ) -> None: ...
    @overload  # binary
    def __init__(
        self: Popen[bytes],
        args: CMD,
        *,
        text: Literal[False] | None = None,
        universal_newlines: Literal[False] | None = None,
        encoding: None = None,
        errors: None = None,
        tee: TeeArg[bytes] = False,
        **kwargs: Unpack[PopenKeywords],
    ) -> None: ...
    @overload  # either, unknown until run time
    def __init__(
        self: Popen[Any],
        args: CMD,
        *,
        text: bool | None = None,
        universal_newlines: bool | None = None,
        encoding: str | None = None,
        errors: str | None = None,
        tee: TeeArg[Any] = False,
        **kwargs: Unpack[PopenKeywords],
    ) -> None: ...
    def __init__(  # noqa: PLR0917 - Popen's documented positional parameters
        self,
        args: Any,
        bufsize: int = -1,
        executable: Any = None,
        stdin: Any = None,
        stdout: Any = None,
        stderr: Any = None,
        preexec_fn: Callable[[], object] | None = None,
        close_fds: bool = True,
        shell: bool = False,
        cwd: Any = None,
        env: Mapping[Any, Any] | None = None,
        universal_newlines: bool | None = None,
        startupinfo: Any = None,
        creationflags: int = 0,
        restore_signals: bool = True,
        start_new_session: bool = False,
        pass_fds: Iterable[int] = (),
        *,
        user: str | int | None = None,
        group: str | int | None = None,
        extra_groups: Iterable[str | int] | None = None,
        encoding: str | None = None,
        errors: str | None = None,
        text: bool | None = None,
        umask: int = -1,
        pipesize: int = -1,
        process_group: int | None = None,
        tee: Any = False,
    ) -> None:
        if _reap.forgotten:
            _reap.reap_forgotten()
        self._reap_lock = Lock()
        self._interrupt_grace = _INTERRUPT_GRACE
        self.args = args
        self.stdin = self.stdout = self.stderr = None
        self.pid = 0
        self.returncode = None
        self.encoding = encoding
        self.errors = errors
        self.pipesize = _checks.check_pipesize(pipesize)

        # Every check first: bad input creates nothing.
        self.text_mode = _checks.text_requested(text, universal_newlines, encoding, errors)
        bufsize, line_buffering = _checks.check_bufsize(bufsize, self.text_mode)
        if isinstance(stdout, int) and stdout == STDOUT:
            raise ValueError("STDOUT can only be used for stderr")
        _checks.refuse_windows_only(startupinfo, creationflags)
        if process_group is not None and not isinstance(process_group, int):
            raise TypeError("process_group must be an integer")
        if tee is not False:
            tee = _checks.check_tee(tee)
            stdout, stderr = _tee_streams(stdout, stderr)
        pass_fds = tuple(pass_fds)
        if pass_fds and not close_fds:
            warnings.warn("pass_fds overriding close_fds.", RuntimeWarning, stacklevel=2)
            close_fds = True
        spec = _spawn.ChildSpec(
            close_fds, pass_fds, cwd, env, preexec_fn, restore_signals, start_new_session,
            process_group,
            None if group is None else _credentials.group_id(group),
            None if extra_groups is None else _credentials.extra_group_ids(extra_groups),
            None if user is None else _credentials.user_id(user),
            umask,
        )  # fmt: skip
        if _native.MSWINDOWS or not _native.CAN_FORK_EXEC:
            raise OSError(
                errno.ENOSYS,
                "treadle.subprocess cannot create processes on this platform "
                f"({sys.platform}): only POSIX systems are supported",
            )
        if preexec_fn is not None and sys.is_finalizing():
            # 3.13+'s primitive refuses this itself; older ones would run the hook in a
            # half-finalized interpreter.
            raise _native.FinalizationError("preexec_fn not supported at interpreter shutdown")
        if self.text_mode and encoding is None:
            self.encoding = encoding = text_encoding()

        plumbing = Plumbing(self.pipesize)
        try:
            ends = NO_ENDS
            if stdin is not None or stdout is not None or stderr is not None:
                ends = plumbing.connect(stdin, stdout, stderr)
                for fd in (ends.parent_stdin, ends.parent_stdout, ends.parent_stderr):
                    if fd != -1:
                        plumbing.hand_over(fd)
                mode = (bufsize, self.text_mode, encoding, errors)
                self.stdin = parent_stream(ends.parent_stdin, True, *mode, line_buffering)
                self.stdout = parent_stream(ends.parent_stdout, False, *mode)
                self.stderr = parent_stream(ends.parent_stderr, False, *mode)
            if tee is not False:
                self._tee = Tee(tee, self.text_mode, self.encoding or "utf-8", errors)
            self._execute_child(args, executable, shell, spec, ends, plumbing)
        except BaseException:
            for stream in (self.stdin, self.stdout, self.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
            plumbing.close_all()
            raise

    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(GenericAlias)

    def __repr__(self) -> str:
        text = f"<{type(self).__name__}: returncode: {self.returncode} args: {self.args!r}>"
        return text if len(text) <= 80 else text[:76] + "...>"

    @property
    def universal_newlines(self) -> bool:
        """Alias of ``text_mode``, kept for compatibility."""
        return self.text_mode

    @universal_newlines.setter
    def universal_newlines(self, value: bool) -> None:
        self.text_mode = bool(value)

    # -- starting the child ---------------------------------------------------------------

    def _execute_child(  # noqa: PLR0917 - tests override it with (*args, **kwargs)
        self,
        args: Any,
        executable: Any,
        shell: bool,
        spec: _spawn.ChildSpec,
        ends: Any,
        plumbing: Plumbing,
    ) -> None:
        """Start the child (posix_spawn where that does all that is asked, else fork_exec)."""
        argv, program = _spawn.child_argv(args, shell, executable)
        sys.audit("subprocess.Popen", program, argv, spec.cwd, spec.env)
        if _spawn.spawnable(spec, program, ends):
            self._started(_spawn.posix_spawn_child(argv, program, spec, ends), plumbing)
            return
        failure = _spawn.fork_exec_child(
            argv, program, spec, ends, lambda pid: self._started(pid, plumbing)
        )
        if failure is not None:
            # The child never ran the program: collect it now, it is of no more use.
            with contextlib.suppress(ChildProcessError):
                self.returncode = _reap.status_to_code(os.waitpid(self.pid, 0)[1])
            raise failure

    def _started(self, pid: int, plumbing: Plumbing) -> None:
        self.pid = pid
        self._child_created = True
        plumbing.close_child_side()

    # -- waiting ------------------------------------------------------------------------

    def poll(self) -> int | None:
        """Return the exit code if the child has exited, else None (never blocks)."""
        return _reap.try_reap(self)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its returncode.

        Raises TimeoutExpired if *timeout* seconds pass first. On Linux the wait sleeps
        on a pidfd (no polling loop); elsewhere it polls with a growing delay.
        """
        deadline = None
        if timeout is not None:
            deadline = time.monotonic() + _checks.timeout_seconds(timeout)  # type: ignore[operator]
        try:
            return self._wait(timeout=timeout)
        except KeyboardInterrupt:
            self._linger(deadline)
            raise

    def _wait(self, timeout: float | None) -> int:
        # *timeout* has passed the timeout rule (wait() or communicate() checked it).
        code = self.returncode
        if code is not None:
            return code
        if timeout is None:
            return _reap.blocking_reap(self)
        return _reap.timed_reap(self, float(timeout), timeout)

    def _linger(self, deadline: float | None) -> None:
        """After Ctrl-C: give the child, which got the same SIGINT, a moment to exit.

        Only once per Popen: the user asked to stop, not to wait.
        """
        grace, self._interrupt_grace = self._interrupt_grace, 0.0
        if deadline is not None:
            grace = min(grace, max(0.0, deadline - time.monotonic()))
        if grace > 0:
            with contextlib.suppress(TimeoutExpired):
                self._wait(timeout=grace)

    # -- signals --------------------------------------------------------------------------

    def send_signal(self, sig: int) -> None:
        """Send *sig* to the child, unless it has already been reaped."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM to the child."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the child."""
        self.send_signal(signal.SIGKILL)

    # -- communicate ----------------------------------------------------------------------

    def communicate(
        self, input: AnyStr | None = None, timeout: float | None = None
    ) -> tuple[AnyStr, AnyStr]:
        """Send *input* to stdin, read stdout and stderr to EOF, wait for the child.

        Returns ``(stdout_data, stderr_data)``. On TimeoutExpired the child keeps running,
        the exception carries the partial output, and a later call resumes.
        """
        if self._exchange is not None and input:
            raise ValueError("Cannot send input after starting communication")
        seconds = None if timeout is None else _checks.timeout_seconds(timeout)
        if seconds is None and self._exchange is None and self._tee is None:
            pipes = [s for s in (self.stdin, self.stdout, self.stderr) if s is not None]
            if len(pipes) < 2:  # nothing to multiplex
                return self._one_pipe(input)
        deadline = None if seconds is None else time.monotonic() + seconds
        try:
            out, err = self._communicate(input, deadline, timeout)
        except KeyboardInterrupt:
            self._linger(deadline)
            raise
        try:
            self.wait(None if deadline is None else deadline - time.monotonic())
        except TimeoutExpired:
            raise TimeoutExpired(self.args, timeout) from None  # the caller's timeout
        return out, err

    def _one_pipe(self, input: Any) -> tuple[Any, Any]:
        out = err = None
        if self.stdin is not None:
            feed_and_close(self.stdin, input)
        elif self.stdout is not None:
            out = read_to_eof(self.stdout, self.pipesize)
        elif self.stderr is not None:
            err = read_to_eof(self.stderr, self.pipesize)
        self.wait()
        return out, err

    def _communicate(
        self, input: Any, deadline: float | None, reported: float | None
    ) -> tuple[Any, Any]:
        exchange = self._exchange
        if exchange is None:
            exchange = self._exchange = Exchange(self, input, self._tee)
        exchange.pump(deadline, reported)
        return exchange.results()

    # -- context manager and finalization -------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        for name in ("stdout", "stderr"):
            stream = getattr(self, name)
            if stream is not None:
                if self._tee is not None and not stream.closed:
                    self._tee.end(name)  # no more will come: pass on a last partial line
                stream.close()
        try:
            if self.stdin is not None:
                self.stdin.close()  # flushing may raise BrokenPipeError: the caller sees it
        finally:
            if exc_type is KeyboardInterrupt:
                self._linger(None)
            else:
                self.wait()

    def __del__(self, _dead: int = sys.maxsize, _warn: Any = warnings.warn) -> None:
        if not self._child_created or _reap.try_reap(self, lost=_dead) is not None:
            return
        _warn(f"subprocess {self.pid} is still running", ResourceWarning, source=self)
        # Keep it for reap_forgotten(), or it would stay a zombie.
        _reap.forgotten.append(self)


def _tee_streams(stdout: Any, stderr: Any) -> tuple[Any, Any]:
    """With tee, streams left as None are captured; anything but a pipe is refused."""
    stdout = PIPE if stdout is None else stdout
    stderr = PIPE if stderr is None else stderr
    if not (isinstance(stdout, int) and stdout == PIPE):
        raise ValueError("tee needs stdout to be None or PIPE")
    if not (isinstance(stderr, int) and stderr in (PIPE, STDOUT)):
        raise ValueError("tee needs stderr to be None, PIPE or STDOUT")
    return stdout, stderr
