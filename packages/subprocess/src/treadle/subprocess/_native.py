"""The interpreter primitives treadle.subprocess uses, adapted per Python version.

This is the only module that touches ``_posixsubprocess`` or any other private name of
the stdlib, and the only one that tests the Python version; everything else calls
:func:`fork_exec` below with one fixed set of keyword arguments. It also decides, once,
which optional kernel and libc features are there (``posix_spawn`` with ``closefrom``,
``pidfd_open``) so that the rest of the package reads plain booleans.
"""

from __future__ import annotations

import builtins
import locale
import os
import select as _select
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "CAN_FORK_EXEC",
    "CHILD_REPORTS_CHDIR",
    "HAVE_PIDFD",
    "HAVE_POSIX_SPAWN_CLOSEFROM",
    "MSWINDOWS",
    "PIPE_BUF",
    "USE_POSIX_SPAWN",
    "FinalizationError",
    "caller_frame",
    "default_encoding",
    "fork_exec",
    "native_fork_exec",
    "pidfd_open",
    "posixsubprocess",
    "spawn_env",
    "wait_readable",
    "xoptions",
]

# Plain values (not sys.* expressions) so that type checkers keep every branch alive.
PLATFORM: str = sys.platform
VERSION: tuple[int, int] = (sys.version_info[0], sys.version_info[1])
MSWINDOWS = PLATFORM == "win32"

# Platforms where CPython itself cannot start a child (3.11+ exposes the same idea as
# subprocess._can_fork_exec); Windows is handled separately (no _posixsubprocess).
CAN_FORK_EXEC = not MSWINDOWS and PLATFORM not in {
    "emscripten",
    "wasi",
    "ios",
    "tvos",
    "watchos",
}

posixsubprocess: types.ModuleType | None
native_fork_exec: Callable[..., int] | None
try:
    import _posixsubprocess

    posixsubprocess = _posixsubprocess
    native_fork_exec = _posixsubprocess.fork_exec
except ImportError:  # Windows, WASI: importing must still work.
    posixsubprocess = None
    native_fork_exec = None

PIPE_BUF: int = getattr(_select, "PIPE_BUF", 512)

# os.POSIX_SPAWN_CLOSEFROM exists from 3.13 where libc has
# posix_spawn_file_actions_addclosefrom_np; before that posix_spawn cannot honour
# close_fds=True and the fork_exec path is taken.
HAVE_POSIX_SPAWN_CLOSEFROM = hasattr(os, "POSIX_SPAWN_CLOSEFROM")

# pidfd_open: os-level from 3.9 on Linux, but the kernel may still refuse (< 5.3, seccomp).
HAVE_PIDFD = hasattr(os, "pidfd_open")


def _default_use_posix_spawn() -> bool:
    """Whether posix_spawn may replace fork_exec for the simple cases (3.14's rule)."""
    if not hasattr(os, "posix_spawn") or MSWINDOWS:
        return False
    # 3.14: _PYTHON_SUBPROCESS_USE_POSIX_SPAWN=0/1 overrides the platform choice.
    forced = os.environ.get("_PYTHON_SUBPROCESS_USE_POSIX_SPAWN")
    if forced in ("0", "1"):
        return forced == "1"
    if PLATFORM in ("darwin", "sunos5"):
        return True
    if PLATFORM.startswith("linux"):
        # glibc >= 2.24 reports exec failures from posix_spawn reliably (vfork-based).
        try:
            name, version = os.confstr("CS_GNU_LIBC_VERSION").split(maxsplit=1)  # type: ignore[union-attr]
            parts = tuple(int(p) for p in version.split(".")[:2])
        except (AttributeError, ValueError, OSError):
            return False
        return name == "glibc" and parts >= (2, 24)
    return False


USE_POSIX_SPAWN = _default_use_posix_spawn()


def fork_exec(
    *,
    args: Sequence[Any],
    executable_list: Sequence[bytes],
    close_fds: bool,
    pass_fds: tuple[int, ...],
    cwd: str | bytes | None,
    env: list[bytes] | None,
    p2cread: int,
    p2cwrite: int,
    c2pread: int,
    c2pwrite: int,
    errread: int,
    errwrite: int,
    errpipe_read: int,
    errpipe_write: int,
    restore_signals: bool,
    call_setsid: bool,
    pgid_to_set: int,
    gid: int | None,
    extra_groups: list[int] | None,
    uid: int | None,
    child_umask: int,
    preexec_fn: Callable[[], object] | None,
) -> int:
    """Fork and exec a child with the interpreter's primitive; return its pid.

    The positional layout differs per version: 21 arguments on 3.10, 23 on 3.11-3.13
    (``pgid_to_set`` after ``call_setsid`` and ``allow_vfork`` last), 22 on 3.14
    (``allow_vfork`` gone: vfork is always allowed).
    """
    if native_fork_exec is None:
        raise OSError(
            "treadle.subprocess cannot create processes on this platform "
            f"({PLATFORM}): only POSIX systems are supported"
        )
    if VERSION < (3, 11):
        if pgid_to_set >= 0:
            # 3.10's primitive has no process-group slot: do it in the child, before exec.
            # (A preexec_fn disables vfork, which is why this is not the default path.)
            user_fn = preexec_fn

            def preexec_fn() -> None:
                os.setpgid(0, pgid_to_set)
                if user_fn is not None:
                    user_fn()

        return native_fork_exec(
            args, executable_list, close_fds, pass_fds, cwd, env,
            p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
            errpipe_read, errpipe_write, restore_signals, call_setsid,
            gid, extra_groups, uid, child_umask, preexec_fn,
        )  # fmt: skip
    head = (
        args, executable_list, close_fds, pass_fds, cwd, env,
        p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
        errpipe_read, errpipe_write, restore_signals, call_setsid, pgid_to_set,
        gid, extra_groups, uid, child_umask, preexec_fn,
    )  # fmt: skip
    if VERSION < (3, 14):
        return native_fork_exec(*head, True)  # allow_vfork
    return native_fork_exec(*head)


# 3.13+: posix_spawn(env=None) hands the child the process environment as it is, with no
# conversion; before that the mapping has to be passed and is re-encoded on every call.
SPAWN_TAKES_NO_ENV = VERSION >= (3, 13)


def spawn_env(env: Mapping[Any, Any] | None) -> Any:
    """Return the env argument for os.posix_spawn (None: this process's environment).

    Typed Any because typeshed accepts None there only for 3.13+.
    """
    if env is None and not SPAWN_TAKES_NO_ENV:
        return os.environ
    return env


def pidfd_open(pid: int) -> int | None:
    """Open a pidfd for *pid*; None where the OS or kernel has none."""
    if not HAVE_PIDFD:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        # ENOSYS (old kernel), EPERM (seccomp), ESRCH (already reaped by someone else).
        return None


def wait_readable(fd: int, timeout: float) -> bool:
    """Block until *fd* is readable or *timeout* seconds pass; True if readable."""
    if hasattr(_select, "poll"):
        poller = _select.poll()
        poller.register(fd, _select.POLLIN)
        # poll() takes milliseconds; round up so that a tiny timeout still waits.
        return bool(poller.poll(max(0, int(timeout * 1000) + 1)))
    ready, _, _ = _select.select([fd], [], [], timeout)
    return bool(ready)


# 3.13+'s primitive reports a failed chdir as "noexec:chdir"; before that every pre-exec
# failure is a bare "noexec" and the caller has to find out whether chdir was the cause.
CHILD_REPORTS_CHDIR = VERSION >= (3, 13)

# What refusing work at interpreter shutdown raises (3.13+ has a class of its own).
FinalizationError: type[RuntimeError] = getattr(builtins, "PythonFinalizationError", RuntimeError)


def default_encoding() -> str:
    """Return the encoding of text pipes when none is given (the locale's, or UTF-8 mode's)."""
    if sys.flags.utf8_mode:
        return "utf-8"
    if VERSION >= (3, 11):
        encoding: str = locale.getencoding()  # type: ignore[attr-defined,unused-ignore]
        return encoding
    return locale.getpreferredencoding(False)


def caller_frame(depth: int) -> types.FrameType | None:
    """Return the frame *depth* calls above this function's caller (None past the top)."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


def xoptions() -> dict[str, object]:
    """Return the ``-X`` options this interpreter was started with."""
    found: dict[str, object] = getattr(sys, "_xoptions", {})
    return found
