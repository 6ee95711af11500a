"""The interpreter primitives treadle.multiprocessing uses, adapted per Python version.

The only module of the package that tests the Python version or names a private part of
the stdlib (``_posixsubprocess.fork_exec``, ``atexit``'s private hooks, treadle.threading's
exit hook). Everything else reads the plain values and calls the functions below.

Helpers C (connections) and F (forkserver, tracker) may append a clearly marked section
of their own at the end of this file.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import _thread
import atexit
import os
import sys

# The weak set the package keeps its registry of process objects in, from the small
# pure-Python module: the public weakref module would cost every spawned child its
# import (WeakSet is the very class it exports).
from _weakrefset import WeakSet

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO, Any, NoReturn

__all__ = [
    "HAVE_PIDFD",
    "OS_FORK_WARNS",
    "PLATFORM",
    "VERSION",
    "WeakSet",
    "allocate_lock",
    "bytecode_magic",
    "caller_frame",
    "clear_atexit",
    "cpu_count",
    "exit_now",
    "fd_ready",
    "fork_exec_passfds",
    "get_ident",
    "interpreter_flags",
    "join_threads",
    "lone_thread",
    "payload_loader",
    "pidfd_open",
    "process_cpu_count",
    "publish",
    "refresh_native_id",
    "register_exit_hook",
    "run_atexit",
    "sem_unlink",
    "semlock_type",
    "shm_open",
    "shm_unlink",
    "simple_cdata_type",
]

# Plain values (not sys.* expressions) so that type checkers keep every branch alive.
PLATFORM: str = sys.platform
VERSION: tuple[int, int] = (sys.version_info[0], sys.version_info[1])

# 3.12+: os.fork() itself warns (DeprecationWarning) when other threads run.
OS_FORK_WARNS = VERSION >= (3, 12)

HAVE_PIDFD = hasattr(os, "pidfd_open")


def pidfd_open(pid: int) -> int | None:
    """Open a pidfd for *pid*; None where the OS or the kernel has none."""
    if not HAVE_PIDFD:
        return None
    try:
        return os.pidfd_open(pid)
    except OSError:
        return None


# ---------------------------------------------------------------------------------------
# CPU counts (3.13: -X cpu_count=N and PYTHON_CPU_COUNT override os.cpu_count()).


def _cpu_count_override() -> int | None:
    value = getattr(sys, "_xoptions", {}).get("cpu_count")
    if value is None and not sys.flags.ignore_environment:
        value = os.environ.get("PYTHON_CPU_COUNT") or None
    if value is None or value is True or value == "default":
        return None
    try:
        count = int(str(value))
    except ValueError:
        return None
    return count if count > 0 else None


def cpu_count() -> int | None:
    """``os.cpu_count()`` with 3.13's ``-X cpu_count``/``PYTHON_CPU_COUNT`` on every Python."""
    if VERSION >= (3, 13):
        return os.cpu_count()
    override = _cpu_count_override()
    return override if override is not None else os.cpu_count()


def process_cpu_count() -> int | None:
    """Return how many CPUs this process may use (3.13's ``os.process_cpu_count()``)."""
    native = getattr(os, "process_cpu_count", None)
    if native is not None:
        found: int | None = native()
        return found
    override = _cpu_count_override()
    if override is not None:
        return override
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


# ---------------------------------------------------------------------------------------
# Command-line flags a child interpreter must get (3.14: every -X option is passed on).

_FLAG_LETTERS = (
    ("debug", "d"),
    ("dont_write_bytecode", "B"),
    ("verbose", "v"),
    ("bytes_warning", "b"),
    ("quiet", "q"),
)


def interpreter_flags() -> list[str]:
    """Return the options that rebuild this interpreter's settings in a child."""
    flags = sys.flags
    out: list[str] = []
    for name, letter in _FLAG_LETTERS:
        level = int(getattr(flags, name, 0))
        if level > 0:
            out.append("-" + letter * level)
    if flags.optimize > 0:
        out.append("-" + "O" * flags.optimize)
    if flags.isolated:
        out.append("-I")
    else:
        if flags.ignore_environment:
            out.append("-E")
        if flags.no_user_site:
            out.append("-s")
        if getattr(flags, "safe_path", False):
            out.append("-P")
    if flags.no_site:
        out.append("-S")
    out.extend("-W" + option for option in sys.warnoptions)
    for key, value in getattr(sys, "_xoptions", {}).items():
        out.append("-X" + (key if value is True else f"{key}={value}"))
    return out


# ---------------------------------------------------------------------------------------
# fork+exec with a given set of descriptors kept open (no shell, no preexec function).


def fork_exec_passfds(path: bytes, args: Sequence[bytes], passfds: tuple[int, ...]) -> int:
    """Start *path* with *args*, keeping only *passfds* open in the child; return its pid.

    Raises the OSError of a failed exec in the parent (reported through an error pipe).
    """
    # Imported here, like the other C modules below: a child rarely starts processes.
    try:
        import _posixsubprocess
    except ImportError:  # pragma: no cover - Windows, WASI
        raise OSError(f"treadle.multiprocessing cannot start processes on {PLATFORM}") from None
    native_fork_exec: Callable[..., int] = _posixsubprocess.fork_exec
    errpipe_read, errpipe_write = os.pipe()
    # The error pipe is kept open in the child too (and stays close-on-exec there).
    keep = tuple(sorted({*passfds, errpipe_write}))
    try:
        head = (
            list(args), [path], True, keep, None, None,
            -1, -1, -1, -1, -1, -1, errpipe_read, errpipe_write, False, False,
        )  # fmt: skip
        tail = (None, None, None, -1, None)  # gid, extra_groups, uid, umask, preexec_fn
        if VERSION < (3, 11):
            pid = native_fork_exec(*head, *tail)
        elif VERSION < (3, 14):
            pid = native_fork_exec(*head, -1, *tail, True)  # pgid_to_set, allow_vfork
        else:
            pid = native_fork_exec(*head, -1, *tail)
    finally:
        os.close(errpipe_write)
    try:
        report = b""
        while chunk := os.read(errpipe_read, 1024):
            report += chunk
    finally:
        os.close(errpipe_read)
    if report:
        os.waitpid(pid, 0)
        name, _, detail = report.partition(b":")
        errno_hex, _, _ = detail.partition(b":")
        try:
            number = int(errno_hex, 16)
        except ValueError:
            number = 0
        if name == b"OSError" and number:
            raise OSError(number, os.strerror(number), os.fsdecode(path))
        raise OSError(f"cannot start {os.fsdecode(path)!r}: {report.decode(errors='replace')}")
    return pid


# ---------------------------------------------------------------------------------------
# atexit in a fork child (3.13+ runs the handlers the child registered, not the parent's).


# The functions themselves, not wrappers: a fork child calls them, and there every
# Python function run is a page the kernel copies.

#: Drop every atexit handler (those the fork child inherited from its parent).
clear_atexit: Callable[[], None] = atexit._clear

#: Run the atexit handlers now (a fork child ends with os._exit).
run_atexit: Callable[[], None] = atexit._run_exitfuncs


# ---------------------------------------------------------------------------------------
# The hook that runs at exit when non-daemon threads are joined, before atexit handlers.


def register_exit_hook(func: Callable[..., object], *args: Any) -> None:
    """Run ``func(*args)`` at interpreter exit, when the stdlib would join children.

    RuntimeError once the interpreter's shutdown has begun.
    """
    # The hook treadle.threading's _register_atexit registers with, taken from
    # thread-core directly: the first start() calls this, and importing treadle.threading
    # would add its at-fork reset of the thread registry to every later fork (the fork
    # start method's children paid about 25 page copies each for it).
    import functools

    from treadle.thread_core import runtime

    runtime.at_thread_join(functools.partial(func, *args) if args else func)


# ---------------------------------------------------------------------------------------
# The stdlib's threading, in a child process.


def lone_thread() -> bool:
    """Whether the calling thread is the only one the threading module knows of.

    A look at threading's registries, without ``threading.enumerate()``'s lock, list and
    per-thread calls: starting a process asks this twice, and in a fork child every
    object touched is a page copied.
    """
    threading: Any = sys.modules.get("threading")
    if threading is None:
        return True  # nothing imported threading: no thread was started through it
    active = threading._active
    return not threading._limbo and len(active) == 1 and threading.get_ident() in active


# Before 3.14 the stdlib's after-fork handler gives the surviving thread its new ident but
# keeps the parent's native id; 3.14's handler renews both.
_NATIVE_ID_KEPT_OVER_FORK = VERSION < (3, 14)


def refresh_native_id() -> None:
    """In a fork child: make ``threading.main_thread().native_id`` this thread's own."""
    if not _NATIVE_ID_KEPT_OVER_FORK:
        return
    threading: Any = sys.modules.get("threading")
    if threading is None:
        return
    thread = threading._active.get(threading.get_ident())
    renew = getattr(thread, "_set_native_id", None)
    if renew is not None:
        renew()


def join_threads() -> None:
    """Join the non-daemon threads and run the thread-exit hooks, as at interpreter exit."""
    from treadle.thread_core import runtime

    runtime.stdlib_shutdown()


def caller_frame(depth: int) -> Any:
    """Return the frame *depth* calls above the caller (None past the outermost)."""
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


#: End this process at once with a code (no cleanup: a fork child's last step).
exit_now: Callable[[int], NoReturn] = os._exit


def bytecode_magic() -> bytes | None:
    """Return this interpreter's bytecode magic number (marshalled code is valid only here).

    Read from the import system's frozen module, always loaded; importlib.util, which
    exports it, would be an import of its own.
    """
    try:
        import _frozen_importlib_external  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - every CPython 3.10-3.14 has it
        return None
    magic = getattr(_frozen_importlib_external, "MAGIC_NUMBER", None)
    return magic if isinstance(magic, bytes) else None


def payload_loader() -> Callable[[IO[bytes]], Any]:
    """Return the C unpickler's ``load`` (``pickle.load``), for a new child's payload.

    Taken from ``_pickle`` itself: the ``pickle`` module around it (its Python pickler,
    ``struct``) is about 1.5 ms of imports a spawned child never uses.
    """
    if "_pickle" not in sys.modules and "functools" not in sys.modules and lone_thread():
        _import_unpickler_alone()
    try:
        from _pickle import load
    except ImportError:  # an interpreter without the C accelerator
        from pickle import load
    return load


def _import_unpickler_alone() -> None:
    # When _pickle initialises it imports functools for a single object, ``partial``,
    # which functools itself re-exports from the C module _functools. The import of
    # functools brings collections, operator, keyword and reprlib with it: about 4 ms of
    # a spawned child's start on 3.10, spent on nothing the child uses. A stand-in module
    # holding that same ``partial`` answers the one lookup. Everything else the import
    # runs happens before the stand-in goes into sys.modules: the other modules _pickle
    # takes objects from, and the finders (which may import anything) locating it. So
    # only _pickle's own initialisation sees the stand-in, while the new process runs no
    # other thread; a later ``import functools`` loads the real module. If _pickle wants
    # more than the stand-in has, loading fails and the caller imports it the usual way.
    try:
        import _compat_pickle  # noqa: F401
        import _frozen_importlib  # type: ignore[import-not-found,unused-ignore]
        import copyreg  # noqa: F401
        from _functools import partial  # type: ignore[import-not-found,unused-ignore]

        bootstrap: Any = _frozen_importlib  # its _find_spec and _load: not in the stubs
        spec = bootstrap._find_spec("_pickle", None)
    except Exception:  # an unusual interpreter: the usual import follows
        return
    if spec is None or "functools" in sys.modules:  # a finder imported it meanwhile
        return
    stand_in = type(sys)("functools")
    stand_in.partial = partial  # type: ignore[attr-defined]
    sys.modules["functools"] = stand_in
    try:
        bootstrap._load(spec)
    except Exception:  # the usual import follows, in the caller
        pass
    finally:
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]


def fd_ready(fd: int, timeout: float | None) -> bool:
    """Block until *fd* is readable (or hung up) or *timeout* seconds pass."""
    import select

    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if timeout is None:
            return bool(poller.poll())
        return bool(poller.poll(max(0, int(timeout * 1000 + 0.999))))
    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)


# ---------------------------------------------------------------------------------------
# Public module names.


def publish(namespace: dict[str, Any]) -> None:
    """Make each class and function in the module's ``__all__`` report that module.

    What ``treadle.thread_core.support.publish`` does, without importing
    ``treadle.thread_core``: that costs a spawned child about 15 ms, and every spawned
    child imports ``treadle.multiprocessing`` and its ``context`` module.
    """
    home = str(namespace["__name__"])
    package = home.rpartition(".")[0] if home.count(".") > 1 else home
    for name in namespace.get("__all__", ()):
        obj = namespace[name]
        is_code = isinstance(obj, type) or type(obj) is _FUNCTION
        if is_code and str(getattr(obj, "__module__", "")).startswith(package + "."):
            obj.__module__ = home


# The class of plain functions (types.FunctionType, without importing types).
_FUNCTION = type(publish)


# ---------------------------------------------------------------------------------------
# Section of helper F (resource tracker, forkserver): removing named semaphores and
# shared-memory segments by name, for the tracker's clean-up of what a dead process left.
# The C modules are imported on first use: most children never touch them.


def semlock_type() -> Any:
    """Return the C semaphore class (named, process-shared) that every lock wraps.

    The only C primitive of synchronize and queues; its interface is the same on
    3.10-3.14. None on a build without named semaphores.
    """
    try:
        import _multiprocessing  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - a build without named semaphores
        return None
    return getattr(_multiprocessing, "SemLock", None)


def sem_unlink(name: str) -> None:
    """Remove the named semaphore *name* (``sem_unlink(3)``); OSError when it is gone."""
    try:
        from _multiprocessing import sem_unlink as unlink  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - a build without named semaphores
        raise OSError(f"named semaphores are not available on {PLATFORM}") from None
    unlink(name)


def _posix_shm() -> Any:
    try:
        import _posixshmem  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # pragma: no cover - no POSIX shared memory here
        raise OSError(f"POSIX shared memory is not available on {PLATFORM}") from None
    return _posixshmem


def shm_unlink(name: str) -> None:
    """Remove the shared-memory segment *name* (``shm_unlink(3)``); OSError when gone."""
    _posix_shm().shm_unlink(name)


def shm_open(name: str, flags: int, mode: int = 0o600) -> int:
    """Open (or, with ``os.O_CREAT``, create) the segment *name*; return its descriptor."""
    fd: int = _posix_shm().shm_open(name, flags, mode=mode)
    return fd


def simple_cdata_type() -> type:
    """Return the base class of ctypes' simple types (``c_int``...), private in ctypes."""
    import ctypes

    return ctypes._SimpleCData  # type: ignore[no-any-return,unused-ignore]


# The interpreter's own lock and thread id, for the start path: the forkserver and the
# tracker take them from here rather than import treadle.threading (each module a forked
# child's parent holds is pages the child may copy).
allocate_lock = _thread.allocate_lock
get_ident = _thread.get_ident
