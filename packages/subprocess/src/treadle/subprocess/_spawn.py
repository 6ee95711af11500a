"""Spawning: from Popen's arguments to a running child's pid.

The child starts through ``os.posix_spawn`` when that does everything asked (no cwd,
credentials, session, pre-exec hook or fd passing) and through the interpreter's
fork-and-exec primitive otherwise. The primitive reports a failure before ``exec`` as
``Name:hex_errno:message`` on a close-on-exec pipe; :func:`report_to_exception` turns
that into the exception Popen raises.
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

try:
    import fcntl
except ImportError:  # Windows: importing must work
    fcntl = None  # type: ignore[assignment]

from . import _native
from ._errors import SubprocessError
from ._fds import Ends

__all__ = ["ChildSpec", "child_argv", "fork_exec_child", "posix_spawn_child", "spawnable"]

_SHELL = "/system/bin/sh" if hasattr(sys, "getandroidapilevel") else "/bin/sh"
_REPORT_LIMIT = 50000  # bytes of the child's failure report worth reading
# Signals the interpreter ignores at start-up, given back their default for the child.
_RESTORED = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


def child_argv(args: Any, shell: bool, executable: Any) -> tuple[list[Any], Any]:
    """Return (argv, program to execute) for Popen's *args*, *shell* and *executable*."""
    if type(args) is list:
        argv = args  # the common case, as it is: the primitive only reads it
    elif isinstance(args, (str, bytes)):
        argv = [args]
    elif isinstance(args, os.PathLike):
        if shell:
            raise TypeError("path-like args is not allowed when shell is true")
        argv = [args]
    else:
        argv = list(args)
    if shell:
        argv = [executable or _SHELL, "-c", *argv]
    elif not argv:
        raise IndexError("list index out of range")  # the stdlib's args[0] of an empty list
    return argv, argv[0] if executable is None else executable


# (name, PATH) -> the candidates the child tries in order. With env=None the search path is
# os.environ["PATH"]; reading it directly (rather than through os.get_exec_path, which sets
# up a warnings context on every call) and keeping the joined result makes the common
# run(["name"]) cheap. The key holds everything the result depends on, so it never goes
# stale; the size bound only keeps a program that spawns many names from growing it.
_candidates: dict[tuple[bytes, str | None], tuple[bytes, ...]] = {}
_CANDIDATES_MAX = 64


def _exec_candidates(program: bytes, env: Mapping[Any, Any] | None) -> tuple[bytes, ...]:
    """Return the paths the child tries to exec: *program* if it has a directory, else PATH's."""
    if b"/" in program:
        return (program,)
    if env is not None:
        return tuple(os.path.join(os.fsencode(d), program) for d in os.get_exec_path(env))
    path = os.environ.get("PATH")
    found = _candidates.get((program, path))
    if found is None:
        dirs = (os.defpath if path is None else path).split(os.pathsep)
        found = tuple(os.path.join(os.fsencode(d), program) for d in dirs)
        if len(_candidates) >= _CANDIDATES_MAX:
            _candidates.clear()
        _candidates[program, path] = found
    return found


def _env_block(env: Mapping[Any, Any]) -> list[bytes]:
    # execve() takes NAME=VALUE strings; a name holding '=' would be split wrongly there.
    pairs = [(os.fsencode(name), os.fsencode(value)) for name, value in env.items()]
    if any(b"=" in name for name, _ in pairs):
        raise ValueError("illegal environment variable name")
    return [b"=".join(pair) for pair in pairs]


class ChildSpec(NamedTuple):
    """Everything about the child other than its argv, program and descriptors."""

    close_fds: bool
    pass_fds: tuple[int, ...]
    cwd: Any
    env: Mapping[Any, Any] | None
    preexec_fn: Callable[[], object] | None
    restore_signals: bool
    start_new_session: bool
    process_group: int | None
    gid: int | None
    extra_groups: list[int] | None
    uid: int | None
    umask: int


def spawnable(spec: ChildSpec, program: Any, ends: Ends) -> bool:
    """Whether os.posix_spawn can start this child exactly as asked."""
    return (
        _native.USE_POSIX_SPAWN
        and (_native.HAVE_POSIX_SPAWN_CLOSEFROM or not spec.close_fds)
        and bool(os.path.dirname(program))
        and spec.preexec_fn is None
        and spec.cwd is None
        and not spec.pass_fds
        and not spec.start_new_session
        and spec.process_group is None
        and spec.gid is None
        and spec.extra_groups is None
        and spec.uid is None
        and spec.umask < 0
        # Descriptors already on 0-2 would need the primitive's careful shuffling.
        and all(fd < 0 or fd > 2 for fd in (ends.child_stdin, ends.child_stdout, ends.child_stderr))
    )


def posix_spawn_child(argv: list[Any], program: Any, spec: ChildSpec, ends: Ends) -> int:
    """Start the child with os.posix_spawn; return its pid."""
    actions: list[tuple[Any, ...]] = [
        (os.POSIX_SPAWN_DUP2, fd, target)
        for fd, target in ((ends.child_stdin, 0), (ends.child_stdout, 1), (ends.child_stderr, 2))
        if fd != -1
    ]
    if spec.close_fds:
        actions.append((os.POSIX_SPAWN_CLOSEFROM, 3))  # type: ignore[attr-defined,unused-ignore]
    options: dict[str, Any] = {}
    if actions:
        options["file_actions"] = actions
    if spec.restore_signals:
        options["setsigdef"] = _RESTORED
    return os.posix_spawn(program, argv, _native.spawn_env(spec.env), **options)


def fork_exec_child(
    argv: list[Any],
    program: Any,
    spec: ChildSpec,
    ends: Ends,
    on_started: Callable[[int], None],
) -> BaseException | None:
    """Start the child with the fork-and-exec primitive.

    *on_started* gets the pid as soon as there is a child, before its report is read, so
    that the caller owns (and reaps) it whatever happens next. Returns the exception
    that stopped the child before ``exec``, None when it runs the program.
    """
    report_r, report_w = os.pipe()
    try:
        try:
            if report_w < 3:
                # The report pipe must not sit on 0-2, where the child's streams go: take
                # the lowest free descriptor from 3 up (still close-on-exec) instead.
                low, report_w = report_w, -1
                try:
                    report_w = fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, 3)
                finally:
                    os.close(low)
            env = None if spec.env is None else _env_block(spec.env)
            keep: tuple[int, ...] = (report_w,)
            if spec.pass_fds:
                keep = tuple(sorted({report_w, *map(int, spec.pass_fds)}))
            pid = _native.fork_exec(
                args=argv,
                executable_list=_exec_candidates(os.fsencode(program), spec.env),
                close_fds=spec.close_fds,
                pass_fds=keep,
                cwd=spec.cwd,
                env=env,
                p2cread=ends.child_stdin,
                p2cwrite=ends.parent_stdin,
                c2pread=ends.parent_stdout,
                c2pwrite=ends.child_stdout,
                errread=ends.parent_stderr,
                errwrite=ends.child_stderr,
                errpipe_read=report_r,
                errpipe_write=report_w,
                restore_signals=spec.restore_signals,
                call_setsid=spec.start_new_session,
                pgid_to_set=-1 if spec.process_group is None else spec.process_group,
                gid=spec.gid,
                extra_groups=spec.extra_groups,
                uid=spec.uid,
                child_umask=spec.umask,
                preexec_fn=spec.preexec_fn,
            )
        finally:
            if report_w >= 0:
                os.close(report_w)
        on_started(pid)
        report = _read_report(report_r)
    finally:
        os.close(report_r)
    return report_to_exception(report, spec.cwd, program) if report else None


def _read_report(fd: int) -> bytes:
    """Read the child's failure report: empty when exec succeeded (the pipe just closed)."""
    parts: list[bytes] = []
    size = 0
    while size <= _REPORT_LIMIT and (part := os.read(fd, _REPORT_LIMIT)):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def report_to_exception(report: bytes, cwd: Any, program: Any) -> BaseException:
    """Return the exception a child's ``Name:hex_errno:message`` report stands for."""
    bad = SubprocessError(f"Bad exception data from child: {report!r}")
    try:
        raw_name, raw_errno, raw_msg = report.split(b":", 2)
        name, message = raw_name.decode("ascii"), raw_msg.decode()
        code = int(raw_errno, 16) if raw_errno else 0
    except ValueError:  # UnicodeDecodeError included
        return bad
    kind = getattr(builtins, name, None) if name != "SubprocessError" else SubprocessError
    if not (isinstance(kind, type) and issubclass(kind, BaseException)):
        kind = SubprocessError
    if not (raw_errno and issubclass(kind, OSError)):
        return kind(message)
    # 3.14 names cwd only when chdir failed, otherwise the program; a failure before exec
    # that is neither names nothing.
    text = os.strerror(code) if code else ""
    if message == "noexec:chdir":
        return kind(code, text, cwd)
    if message != "noexec":
        return kind(code, text, program)
    if not _native.CHILD_REPORTS_CHDIR and cwd is not None and not _can_chdir(cwd):
        return kind(code, text, cwd)  # an old primitive's bare "noexec": was it chdir?
    return kind(code, text)


def _can_chdir(path: Any) -> bool:
    try:
        return os.path.isdir(path) and os.access(path, os.X_OK)
    except (OSError, ValueError, TypeError):
        return False
