"""Popen: start a child process, talk to it through pipes, wait for it (POSIX)."""

from __future__ import annotations

import builtins
import contextlib
import errno
import io
import locale
import os
import selectors
import signal
import sys
import time
import types
import warnings

try:
    import fcntl
except ImportError:  # Windows: importing must work
    fcntl = None  # type: ignore[assignment]
try:
    import grp
except ImportError:
    grp = None  # type: ignore[assignment]
try:
    import pwd
except ImportError:
    pwd = None  # type: ignore[assignment]
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from treadle.threading import Lock

from . import _native
from ._errors import SubprocessError, TimeoutExpired

__all__ = ["DEVNULL", "PIPE", "STDOUT", "Popen", "PopenSelector", "active", "cleanup"]

PIPE = -1
STDOUT = -2
DEVNULL = -3

# The selector communicate() uses; poll() scales to any fd number, select() does not.
PopenSelector: type[selectors.BaseSelector] = getattr(
    selectors, "PollSelector", selectors.SelectSelector
)

# Popen objects whose owner dropped them while the child still ran: reaped later by
# cleanup() (called by every new Popen), as the stdlib does with subprocess._active.
active: list[Popen] | None = []

_READ_CHUNK = 32768
_PIPE_CAPACITY = 65536  # Linux's default pipe size: what one read(2) can return
_SIGINT_WAIT = 0.25  # seconds a Ctrl-C'd wait()/__exit__ gives the child to exit too


def cleanup() -> None:
    """Reap the children of dropped Popen objects that have exited since."""
    if active is None:
        return
    for proc in active[:]:
        if proc._try_reap(deadstate=sys.maxsize) is not None:
            with contextlib.suppress(ValueError):
                active.remove(proc)


def default_encoding() -> str:
    """Return the encoding of text-mode pipes when none is given (locale, or UTF-8 mode)."""
    if sys.flags.utf8_mode:
        return "utf-8"
    getencoding = getattr(locale, "getencoding", None)  # 3.11+
    if getencoding is not None:
        encoding: str = getencoding()
        return encoding
    return locale.getpreferredencoding(False)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def text_encoding() -> str:
    """Like default_encoding(), warning under ``-X warn_default_encoding`` as 3.14 does.

    The EncodingWarning points at the first caller outside treadle.subprocess.
    """
    if getattr(sys.flags, "warn_default_encoding", 0):
        frame = sys._getframe(0)
        level = 1
        while frame is not None and os.path.dirname(frame.f_code.co_filename) == _PACKAGE_DIR:
            frame = frame.f_back  # type: ignore[assignment]
            level += 1
        warnings.warn(
            "'encoding' argument not specified.",
            EncodingWarning,
            stacklevel=level,
        )
    return default_encoding()


def _translate_newlines(data: bytes, encoding: str, errors: str | None) -> str:
    text = data.decode(encoding, errors or "strict")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _is_finalizing() -> bool:
    return sys.is_finalizing()


_FinalizationError: type[RuntimeError] = getattr(builtins, "PythonFinalizationError", RuntimeError)


class Popen:
    """Execute a child program in a new process, with the 3.14 subprocess.Popen API.

    See the documentation of :class:`subprocess.Popen`: every POSIX argument is accepted
    with the same meaning and defaults.
    """

    __module__ = "treadle.subprocess"
    __class_getitem__ = classmethod(types.GenericAlias)  # type: ignore[var-annotated]

    _child_created = False  # also read by __del__ when __init__ failed early

    def __init__(  # noqa: PLR0917 - Popen's documented positional parameters
        self,
        args: Any,
        bufsize: int | None = -1,
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
        pipesize: int | None = -1,
        process_group: int | None = None,
    ) -> None:
        if active:
            cleanup()
        self._waitpid_lock = Lock()
        self._input: bytes | memoryview | None = None
        self._input_offset = 0
        self._communication_started = False
        self._fileobj2output: dict[Any, list[bytes]] = {}
        self._sigint_wait_secs = _SIGINT_WAIT
        self._tee: Callable[[int, bytes], None] | None = None
        self.args = args
        self.stdin: IO[Any] | None = None
        self.stdout: IO[Any] | None = None
        self.stderr: IO[Any] | None = None
        self.pid: int = 0
        self.returncode: int | None = None
        self.encoding = encoding
        self.errors = errors
        self.pipesize: int = -1 if pipesize is None else pipesize

        if bufsize is None:
            bufsize = -1
        if not isinstance(bufsize, int):
            raise TypeError("bufsize must be an integer")
        if isinstance(stdout, int) and stdout == STDOUT:
            raise ValueError("STDOUT can only be used for stderr")
        if not isinstance(self.pipesize, int):
            raise TypeError("pipesize must be an integer")
        if startupinfo is not None:
            raise ValueError("startupinfo is only supported on Windows platforms")
        if creationflags != 0:
            raise ValueError("creationflags is only supported on Windows platforms")
        pass_fds = tuple(pass_fds)
        if pass_fds and not close_fds:
            warnings.warn("pass_fds overriding close_fds.", RuntimeWarning, stacklevel=2)
            close_fds = True
        if (
            text is not None
            and universal_newlines is not None
            and bool(universal_newlines) != bool(text)
        ):
            raise SubprocessError(
                "Cannot disambiguate when both text and universal_newlines are "
                "supplied but different. Pass one or the other."
            )
        self.text_mode = bool(encoding or errors or text or universal_newlines)
        if self.text_mode and encoding is None:
            self.encoding = encoding = text_encoding()
        line_buffering = False
        if bufsize == 1:
            if self.text_mode:
                line_buffering = True
            else:
                warnings.warn(
                    "line buffering (buffering=1) isn't supported in binary mode, "
                    "the default buffer size will be used",
                    RuntimeWarning,
                    stacklevel=2,
                )
            bufsize = -1

        if process_group is not None and not isinstance(process_group, int):
            raise TypeError("process_group must be an integer")
        # The resolvers take a given value; None (the usual case) skips the call.
        gid: int | None = None
        gids: list[int] | None = None
        uid: int | None = None
        if group is not None:
            gid = _resolve_group(group)
        if extra_groups is not None:
            gids = _resolve_extra_groups(extra_groups)
        if user is not None:
            uid = _resolve_user(user)

        if _native.MSWINDOWS or not _native.CAN_FORK_EXEC:
            raise OSError(
                errno.ENOSYS,
                "treadle.subprocess cannot create processes on this platform "
                f"({sys.platform}): only POSIX systems are supported",
            )
        if preexec_fn is not None and _is_finalizing():
            # 3.13+'s primitive refuses this itself; 3.10-3.12's would run the hook in a
            # half-finalized interpreter.
            raise _FinalizationError("preexec_fn not supported at interpreter shutdown")

        self._devnull: int | None = None
        self._owned: list[int] = []  # pipe ends this Popen created and has not closed
        self._owned_child_ends: list[int] = []
        try:
            if stdin is None and stdout is None and stderr is None:
                # Everything inherited: no pipe, no file object.
                p2cread = p2cwrite = c2pread = c2pwrite = errread = errwrite = -1
            else:
                p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite = self._get_handles(
                    stdin, stdout, stderr
                )
                # The parent's ends of the pipes become this Popen's file objects.
                opts: dict[str, Any] = {
                    "bufsize": bufsize,
                    "encoding": encoding,
                    "errors": errors,
                }
                self.stdin = self._parent_end(
                    p2cwrite, writing=True, line_buffering=line_buffering, **opts
                )
                self.stdout = self._parent_end(c2pread, writing=False, line_buffering=False, **opts)
                self.stderr = self._parent_end(errread, writing=False, line_buffering=False, **opts)
            self._execute_child(
                args, executable, preexec_fn, close_fds, pass_fds, cwd, env,
                startupinfo, creationflags, shell,
                p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
                restore_signals, gid, gids, uid, umask, start_new_session, process_group,
            )  # fmt: skip
        except BaseException:
            for f in (self.stdin, self.stdout, self.stderr):
                if f is not None:
                    with contextlib.suppress(OSError):
                        f.close()
            self._owned_child_ends = list(self._owned)
            self._close_child_ends()
            raise

    # -- properties, representation, context manager ---------------------------------

    def __repr__(self) -> str:
        text = f"<{type(self).__name__}: returncode: {self.returncode} args: {self.args!r}>"
        if len(text) > 80:
            text = text[:76] + "...>"
        return text

    @property
    def universal_newlines(self) -> bool:
        """Alias of ``text_mode``, kept for compatibility."""
        return self.text_mode

    @universal_newlines.setter
    def universal_newlines(self, value: bool) -> None:
        self.text_mode = bool(value)

    def __enter__(self) -> Popen:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        for f in (self.stdout, self.stderr):
            if f is not None:
                f.close()
        try:
            if self.stdin is not None:
                self.stdin.close()  # flushing may raise BrokenPipeError: the caller sees it
        finally:
            if exc_type is KeyboardInterrupt:
                # Give the child a moment to react to the same Ctrl-C, then let it go:
                # the user asked to stop, not to wait.
                if self._sigint_wait_secs > 0:
                    with contextlib.suppress(TimeoutExpired):
                        self._wait(timeout=self._sigint_wait_secs)
                self._sigint_wait_secs = 0
            else:
                self.wait()

    def __del__(self, _maxsize: int = sys.maxsize, _warn: Any = warnings.warn) -> None:
        if not self._child_created:
            return
        self._try_reap(deadstate=_maxsize)
        if self.returncode is None:
            _warn(f"subprocess {self.pid} is still running", ResourceWarning, source=self)
            if active is not None:
                active.append(self)

    # -- creating the child ------------------------------------------------------------

    def _get_devnull(self) -> int:
        if self._devnull is None:
            self._devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        return self._devnull

    def _make_pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        self._owned.extend((r, w))
        if self.pipesize > 0 and fcntl is not None and hasattr(fcntl, "F_SETPIPE_SZ"):
            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, self.pipesize)
        return r, w

    def _parent_end(
        self,
        fd: int,
        *,
        writing: bool,
        bufsize: int,
        line_buffering: bool,
        encoding: str | None,
        errors: str | None,
    ) -> Any:
        if fd == -1:
            return None
        stream = open(fd, "wb" if writing else "rb", bufsize)  # noqa: SIM115 - Popen owns it
        self._owned.remove(fd)
        if not self.text_mode:
            return stream
        # A text stdin writes through, so input reaches the child without a flush.
        return io.TextIOWrapper(
            stream,
            write_through=writing,
            line_buffering=line_buffering,
            encoding=encoding,
            errors=errors,
        )

    def _get_handles(
        self, stdin: Any, stdout: Any, stderr: Any
    ) -> tuple[int, int, int, int, int, int]:
        # Each stream gives (the parent's end, the child's end); -1 where there is none.
        p2cwrite, p2cread = self._stream_ends(stdin, "stdin", child_reads=True)
        c2pread, c2pwrite = self._stream_ends(stdout, "stdout", child_reads=False)
        if stderr == STDOUT:
            errread = -1
            if c2pwrite != -1:
                errwrite = c2pwrite
            else:
                errwrite = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        else:
            errread, errwrite = self._stream_ends(stderr, "stderr", child_reads=False)

        self._owned_child_ends = [fd for fd in (p2cread, c2pwrite, errwrite) if fd in self._owned]
        return p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite

    def _stream_ends(self, spec: Any, name: str, *, child_reads: bool) -> tuple[int, int]:
        if spec is None:
            return -1, -1
        if spec == PIPE:
            r, w = self._make_pipe()
            return (w, r) if child_reads else (r, w)
        if spec == DEVNULL:
            return -1, self._get_devnull()
        if isinstance(spec, int):
            return -1, spec
        return -1, _fileno(spec, name)

    def _close_child_ends(self) -> None:
        for fd in set(self._owned_child_ends):
            with contextlib.suppress(OSError):
                os.close(fd)
            with contextlib.suppress(ValueError):
                self._owned.remove(fd)
        self._owned_child_ends = []
        if self._devnull is not None:
            with contextlib.suppress(OSError):
                os.close(self._devnull)
            self._devnull = None

    def _execute_child(  # noqa: PLR0917 - tests override it with (*args, **kwargs)
        self,
        args: Any,
        executable: Any,
        preexec_fn: Callable[[], object] | None,
        close_fds: bool,
        pass_fds: tuple[int, ...],
        cwd: Any,
        env: Mapping[Any, Any] | None,
        startupinfo: Any,
        creationflags: int,
        shell: bool,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        restore_signals: bool,
        gid: int | None,
        gids: list[int] | None,
        uid: int | None,
        umask: int,
        start_new_session: bool,
        process_group: int | None,
    ) -> None:
        """Start the child (fork_exec, or posix_spawn where that is equivalent)."""
        if type(args) is list:
            pass  # the common case, kept as it is: fork_exec only reads it
        elif isinstance(args, (str, bytes)):
            args = [args]
        elif isinstance(args, os.PathLike):
            if shell:
                raise TypeError("path-like args is not allowed when shell is true")
            args = [args]
        else:
            args = list(args)
        if shell:
            sh = "/system/bin/sh" if hasattr(sys, "getandroidapilevel") else "/bin/sh"
            args = [sh, "-c", *args]
            if executable:
                args[0] = executable
        if not args:
            raise IndexError("list index out of range")  # stdlib: args[0] of an empty list
        if executable is None:
            executable = args[0]
        sys.audit("subprocess.Popen", executable, args, cwd, env)

        if (
            _native.USE_POSIX_SPAWN
            and (not close_fds or _native.HAVE_POSIX_SPAWN_CLOSEFROM)
            and preexec_fn is None
            and os.path.dirname(executable)
            and not pass_fds
            and cwd is None
            and all(fd < 0 or fd >= 3 for fd in (p2cread, c2pwrite, errwrite))
            and not start_new_session
            and process_group is None
            and gid is None
            and gids is None
            and uid is None
            and umask < 0
        ):
            self._spawn(args, executable, env, restore_signals, close_fds,
                        p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)  # fmt: skip
            return

        orig_executable = executable
        report_r, report_w = os.pipe()
        if report_w < 3:
            # The child's error pipe must not sit on 0-2, where the redirections go:
            # move it to the lowest free descriptor from 3 up (still close-on-exec).
            moved = fcntl.fcntl(report_w, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(report_w)
            report_w = moved
        try:
            try:
                env_list = None if env is None else [_env_entry(k, v) for k, v in env.items()]
                if pass_fds:
                    keep = set(pass_fds)
                    keep.add(report_w)
                    fds_kept = tuple(sorted(int(fd) for fd in keep))
                else:
                    fds_kept = (report_w,)
                self.pid = _native.fork_exec(
                    args=args,
                    executable_list=_executable_list(os.fsencode(executable), env),
                    close_fds=close_fds,
                    pass_fds=fds_kept,
                    cwd=cwd,
                    env=env_list,
                    p2cread=p2cread,
                    p2cwrite=p2cwrite,
                    c2pread=c2pread,
                    c2pwrite=c2pwrite,
                    errread=errread,
                    errwrite=errwrite,
                    errpipe_read=report_r,
                    errpipe_write=report_w,
                    restore_signals=restore_signals,
                    call_setsid=start_new_session,
                    pgid_to_set=-1 if process_group is None else process_group,
                    gid=gid,
                    extra_groups=gids,
                    uid=uid,
                    child_umask=umask,
                    preexec_fn=preexec_fn,
                )
                self._child_created = True
            finally:
                os.close(report_w)
            self._close_child_ends()
            report = bytearray()
            while len(report) <= 50000:
                part = os.read(report_r, 50000)
                if not part:
                    break
                report += part
        finally:
            os.close(report_r)
        if report:
            self._reap_after_failed_exec()
            raise _child_exception(bytes(report), cwd, orig_executable)

    def _spawn(  # noqa: PLR0917
        self,
        args: list[Any],
        executable: Any,
        env: Mapping[Any, Any] | None,
        restore_signals: bool,
        close_fds: bool,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
    ) -> None:
        kwargs: dict[str, Any] = {}
        if restore_signals:
            # Signals the interpreter ignores at start-up go back to their default.
            kwargs["setsigdef"] = [
                getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ")
                if hasattr(signal, name)
            ]  # fmt: skip
        actions: list[tuple[Any, ...]] = []
        for fd, target in ((p2cread, 0), (c2pwrite, 1), (errwrite, 2)):
            if fd != -1:
                actions.append((os.POSIX_SPAWN_DUP2, fd, target))
        if close_fds:
            actions.append((os.POSIX_SPAWN_CLOSEFROM, 3))  # type: ignore[attr-defined,unused-ignore]
        if actions:
            kwargs["file_actions"] = actions
        self.pid = os.posix_spawn(executable, args, _native.spawn_env(env), **kwargs)
        self._child_created = True
        self._close_child_ends()

    def _reap_after_failed_exec(self) -> None:
        try:
            pid, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return
        if pid == self.pid:
            self._handle_exitstatus(status)
        else:
            self.returncode = sys.maxsize

    # -- waiting -------------------------------------------------------------------------

    def _handle_exitstatus(self, status: int) -> None:
        if os.WIFSTOPPED(status):
            self.returncode = -os.WSTOPSIG(status)
        else:
            self.returncode = os.waitstatus_to_exitcode(status)

    def _try_reap(self, deadstate: int | None = None) -> int | None:
        """One non-blocking waitpid; the exit code or None (also if another thread waits)."""
        if self.returncode is not None or not self._child_created:
            return self.returncode
        if not self._waitpid_lock.acquire(False):
            return None  # another thread is in waitpid for this child
        try:
            # The code may have arrived while we were taking the lock.
            if self.returncode is None:
                self._reap_once(deadstate)
        finally:
            self._waitpid_lock.release()
        return self.returncode

    def _reap_once(self, deadstate: int | None) -> None:
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except OSError as exc:
            lost = exc.errno == errno.ECHILD
            # ECHILD: someone else reaped the child (SIGCHLD ignored, a waitpid(-1)
            # elsewhere) and its status is gone: report success, as the stdlib does.
            # *deadstate* (from __del__) wins over that.
            fallback = deadstate if deadstate is not None else (0 if lost else None)
            if fallback is not None:
                self.returncode = fallback
            return
        if pid == self.pid:
            self._handle_exitstatus(status)

    def poll(self) -> int | None:
        """Return the exit code if the child has exited, else None (never blocks)."""
        return self._try_reap()

    def _blocking_reap(self) -> None:
        with self._waitpid_lock:
            if self.returncode is not None:
                return
            while True:
                try:
                    pid, status = os.waitpid(self.pid, 0)
                except ChildProcessError:
                    self.returncode = 0
                    return
                if pid == self.pid:
                    self._handle_exitstatus(status)
                    return

    def _wait(self, timeout: float | None) -> int:
        if self.returncode is not None:
            return self.returncode
        if timeout is None:
            self._blocking_reap()
            code: int | None = self.returncode
            assert code is not None
            return code
        deadline = time.monotonic() + timeout
        pidfd: int | None = None
        delay = 0.0005
        try:
            while True:
                if self._waitpid_lock.acquire(False):
                    try:
                        # Another thread may have reaped it while we slept.
                        done: int | None = self.returncode
                        if done is not None:
                            return done
                        try:
                            pid, status = os.waitpid(self.pid, os.WNOHANG)
                        except ChildProcessError:
                            self.returncode = 0
                            return 0
                        if pid == self.pid:
                            self._handle_exitstatus(status)
                            return self.returncode  # type: ignore[return-value]
                        if pidfd is None and _native.HAVE_PIDFD:
                            # Opened under the lock while the child is unreaped, so the
                            # pid cannot have been recycled.
                            pidfd = _native.pidfd_open(self.pid)
                    finally:
                        self._waitpid_lock.release()
                    locked_out = False
                else:
                    locked_out = True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutExpired(self.args, timeout)
                if pidfd is not None and not locked_out:
                    _native.wait_readable(pidfd, remaining)
                else:
                    # No pidfd (or another thread holds the wait lock): back off.
                    delay = min(delay * 2, remaining, 0.05)
                    time.sleep(delay)
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its returncode.

        Raises TimeoutExpired if *timeout* seconds pass first. On Linux the wait sleeps
        on a pidfd (no polling loop); elsewhere it polls with a growing delay.
        """
        if timeout is not None:
            endtime = time.monotonic() + timeout
        try:
            return self._wait(timeout=timeout)
        except KeyboardInterrupt:
            # Ctrl-C reaches the child too: give it a moment so that it is not a zombie.
            if timeout is not None:
                wait_for = min(self._sigint_wait_secs, max(0.0, endtime - time.monotonic()))
            else:
                wait_for = self._sigint_wait_secs
            self._sigint_wait_secs = 0
            with contextlib.suppress(TimeoutExpired):
                self._wait(timeout=wait_for)
            raise

    # -- signals ---------------------------------------------------------------------------

    def send_signal(self, sig: int) -> None:
        """Send *sig* to the child, unless it has already been reaped."""
        self.poll()
        if self.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        """Send SIGTERM to the child."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL to the child."""
        self.send_signal(signal.SIGKILL)

    # -- communicate ---------------------------------------------------------------------

    def _stdin_write(self, data: Any) -> None:
        assert self.stdin is not None
        if data:
            try:
                self.stdin.write(data)
            except BrokenPipeError:
                pass
            except OSError as exc:
                # EINVAL: the child exited and the pipe is gone (seen on some systems).
                if exc.errno != errno.EINVAL:
                    raise
        try:
            self.stdin.close()
        except BrokenPipeError:
            pass
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise

    def communicate(self, input: Any = None, timeout: float | None = None) -> tuple[Any, Any]:
        """Send *input* to stdin, read stdout and stderr to EOF, wait for the child.

        Returns ``(stdout_data, stderr_data)``. On TimeoutExpired the child keeps running,
        the exception carries the partial output, and a later call resumes.
        """
        if self._communication_started and input:
            raise ValueError("Cannot send input after starting communication")
        pipes = (self.stdin is not None) + (self.stdout is not None) + (self.stderr is not None)
        if timeout is None and not self._communication_started and pipes < 2 and self._tee is None:
            out = err = None
            if self.stdin is not None:
                self._stdin_write(input)
            elif self.stdout is not None:
                out = _read_to_eof(self.stdout, self.pipesize)
                self.stdout.close()
            elif self.stderr is not None:
                err = _read_to_eof(self.stderr, self.pipesize)
                self.stderr.close()
            self.wait()
            return out, err

        endtime = None if timeout is None else time.monotonic() + timeout
        try:
            out, err = self._communicate(input, endtime, timeout)
        except KeyboardInterrupt:
            if timeout is not None:
                wait_for = min(self._sigint_wait_secs, max(0.0, endtime - time.monotonic()))  # type: ignore[operator]
            else:
                wait_for = self._sigint_wait_secs
            self._sigint_wait_secs = 0
            with contextlib.suppress(TimeoutExpired):
                self._wait(timeout=wait_for)
            raise
        finally:
            self._communication_started = True
        remaining = None if endtime is None else endtime - time.monotonic()
        try:
            self.wait(timeout=remaining)
        except TimeoutExpired:
            # Report the caller's timeout, not what was left of it.
            raise TimeoutExpired(self.args, timeout) from None
        return out, err

    def _partial(self, f: Any) -> bytes | None:
        if f is None or f not in self._fileobj2output:
            return None
        return b"".join(self._fileobj2output[f])

    def _communicate(
        self, input: Any, endtime: float | None, orig_timeout: float | None
    ) -> tuple[Any, Any]:
        if self.stdin is not None and not self._communication_started:
            # Data the caller wrote earlier may still sit in the buffer.
            with contextlib.suppress(BrokenPipeError, ValueError):
                self.stdin.flush()
            if not input:
                with contextlib.suppress(BrokenPipeError):
                    self.stdin.close()
        for f in (self.stdout, self.stderr):
            if f is not None and f not in self._fileobj2output:
                self._fileobj2output[f] = []
        if self.stdin is not None and self._input is None:
            self._input_offset = 0
            data = input
            if data is not None and self.text_mode:
                wrapper: Any = self.stdin
                data = data.encode(wrapper.encoding, wrapper.errors)
            self._input = None if data is None else _as_bytes_view(data)

        tee = self._tee
        with PopenSelector() as sel:
            if self.stdin is not None and self._input and not self.stdin.closed:
                sel.register(self.stdin, selectors.EVENT_WRITE)
            for f in (self.stdout, self.stderr):
                if f is not None and not f.closed:
                    sel.register(f, selectors.EVENT_READ)
            while sel.get_map():
                wait_for = None if endtime is None else endtime - time.monotonic()
                if wait_for is not None and wait_for < 0:
                    self._raise_timeout(orig_timeout)
                ready = sel.select(wait_for)
                if endtime is not None and time.monotonic() > endtime:
                    self._raise_timeout(orig_timeout)
                for key, _ in ready:
                    if key.fileobj is self.stdin:
                        assert self._input is not None
                        assert self.stdin is not None
                        chunk = self._input[
                            self._input_offset : self._input_offset + _native.PIPE_BUF
                        ]
                        try:
                            self._input_offset += os.write(key.fd, chunk)
                        except BrokenPipeError:
                            sel.unregister(key.fileobj)
                            with contextlib.suppress(BrokenPipeError):
                                self.stdin.close()
                        else:
                            if self._input_offset >= len(self._input):
                                sel.unregister(key.fileobj)
                                with contextlib.suppress(BrokenPipeError):
                                    self.stdin.close()
                    else:
                        data = os.read(key.fd, _READ_CHUNK)
                        if not data:
                            sel.unregister(key.fileobj)
                            key.fileobj.close()  # type: ignore[union-attr]
                        else:
                            self._fileobj2output[key.fileobj].append(data)
                            if tee is not None:
                                tee(1 if key.fileobj is self.stdout else 2, data)

        out = self._partial(self.stdout)
        err = self._partial(self.stderr)
        if self.text_mode:
            enc, errs = self.encoding or default_encoding(), self.errors
            return (
                None if out is None else _translate_newlines(out, enc, errs),
                None if err is None else _translate_newlines(err, enc, errs),
            )
        return out, err

    def _raise_timeout(self, orig_timeout: float | None) -> None:
        raise TimeoutExpired(
            self.args,
            orig_timeout,
            output=self._partial(self.stdout),
            stderr=self._partial(self.stderr),
        )


def _read_to_eof(stream: Any, pipesize: int) -> Any:
    """Read *stream* to its end, as ``stream.read()`` would.

    A binary pipe is read a pipe-full at a time and joined once at the end. Its read()
    grows one buffer by realloc instead (by 1/8 at a time on 3.10), and once the
    allocator serves large blocks from the heap a growth step can copy the whole buffer;
    measured on 10 MB, read() cost 2-4 ms more parent CPU than this loop.
    """
    if type(stream) is not io.BufferedReader:
        return stream.read()
    read1 = stream.read1  # buffered bytes first, then one read(2) per call
    size = max(pipesize, _PIPE_CAPACITY)
    chunks: list[bytes] = []
    while chunk := read1(size):
        chunks.append(chunk)
    return b"".join(chunks)


def _as_bytes_view(data: Any) -> memoryview:
    """View *data* as flat bytes, so offsets count bytes whatever the item size."""
    view = memoryview(data)
    if view.format == "B" and view.ndim == 1:
        return view
    if view.c_contiguous:
        return view.cast("B")
    return memoryview(view.tobytes())


def _fileno(obj: Any, name: str) -> int:
    try:
        fileno = obj.fileno
    except AttributeError:
        raise TypeError(
            f"{name} must be PIPE, DEVNULL, STDOUT, None, a file descriptor or an object "
            f"with a fileno() method, not {type(obj).__name__}"
        ) from None
    fd: int = fileno()
    return fd


def _gid(value: object, *, strings_refused: str, wrong_type: str) -> int:
    # One group, by name or number; the messages say where it came from.
    if isinstance(value, str):
        if grp is None:
            raise ValueError(strings_refused)
        return grp.getgrnam(value).gr_gid
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"Group ID cannot be negative, got {value}")
        return value
    raise TypeError(wrong_type)


def _resolve_group(group: str | int) -> int:
    return _gid(
        group,
        strings_refused="The group parameter cannot be a string on systems without the grp module",
        wrong_type="Group must be a string or an integer",
    )


def _resolve_extra_groups(extra_groups: Iterable[str | int]) -> list[int]:
    return [
        _gid(
            g,
            strings_refused=(
                "Items in extra_groups cannot be strings on systems without the grp module"
            ),
            wrong_type=f"Items in extra_groups must be a string or integer, not {type(g).__name__}",
        )
        for g in extra_groups
    ]


# (name, PATH) -> the candidates the child tries in order. With env=None the search path is
# os.environ["PATH"]; reading it directly (rather than through os.get_exec_path, which sets
# up a warnings context on every call) and keeping the joined result makes the common
# run(["name"]) cheap. The key holds everything the result depends on, so it never goes
# stale; the size bound only keeps a program that spawns many names from growing it.
_exec_lists: dict[tuple[bytes, str | None], tuple[bytes, ...]] = {}
_EXEC_LISTS_MAX = 64


def _executable_list(exe: bytes, env: Mapping[Any, Any] | None) -> tuple[bytes, ...]:
    """Return the paths the child tries to exec: *exe* if it has a directory, else PATH's."""
    if b"/" in exe:
        return (exe,)
    if env is not None:
        return tuple(os.path.join(os.fsencode(d), exe) for d in os.get_exec_path(env))
    path = os.environ.get("PATH")
    key = (exe, path)
    found = _exec_lists.get(key)
    if found is None:
        dirs = (os.defpath if path is None else path).split(os.pathsep)
        found = tuple(os.path.join(os.fsencode(d), exe) for d in dirs)
        if len(_exec_lists) >= _EXEC_LISTS_MAX:
            _exec_lists.clear()
        _exec_lists[key] = found
    return found


def _env_entry(name: Any, value: Any) -> bytes:
    raw = os.fsencode(name)
    if b"=" in raw:
        raise ValueError("illegal environment variable name")
    return raw + b"=" + os.fsencode(value)


def _resolve_user(user: str | int) -> int:
    if isinstance(user, str):
        if pwd is None:
            raise ValueError(
                "The user parameter cannot be a string on systems without the pwd module"
            )
        return pwd.getpwnam(user).pw_uid
    if isinstance(user, int):
        if user < 0:
            raise ValueError(f"User ID cannot be negative, got {user}")
        return user
    raise TypeError("User must be a string or an integer")


def _child_exception(report: bytes, cwd: Any, executable: Any) -> BaseException:
    """Turn the child's 'Name:hex_errno:message' report into the exception to raise."""
    try:
        name_b, hex_errno, msg_b = report.split(b":", 2)
        msg = msg_b.decode()
        name = name_b.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return SubprocessError(f"Bad exception data from child: {report!r}")
    exc_type: Any = SubprocessError if name == "SubprocessError" else getattr(builtins, name, None)
    if not (isinstance(exc_type, type) and issubclass(exc_type, BaseException)):
        exc_type = SubprocessError
    if issubclass(exc_type, OSError) and hex_errno:
        try:
            code = int(hex_errno, 16)
        except ValueError:
            return SubprocessError(f"Bad exception data from child: {report!r}")
        filename: Any = executable
        if msg == "noexec:chdir":
            filename = cwd
        elif msg == "noexec":
            # 3.10-3.12 cannot tell a failed chdir from other pre-exec failures; 3.14 names
            # cwd only when chdir failed, so check whether that is what happened.
            filename = None
            if sys.version_info < (3, 13) and cwd is not None and not _can_chdir(cwd):
                filename = cwd
        text = os.strerror(code) if code else ""
        if filename is None:
            return exc_type(code, text)  # type: ignore[no-any-return]
        return exc_type(code, text, filename)  # type: ignore[no-any-return]
    return exc_type(msg)  # type: ignore[no-any-return]


def _can_chdir(path: Any) -> bool:
    try:
        return os.path.isdir(path) and os.access(path, os.X_OK)
    except (OSError, ValueError, TypeError):
        return False
