"""Logging, finalizers, after-fork hooks, temporary directory and the exit function.

Kept cheap to import: a spawned child imports this module, so ``logging``, ``tempfile``,
``shutil`` and treadle.threading are imported only when something needs them.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import itertools
import os
import sys
import weakref

from . import _native
from . import _process as process

# Annotations only: importing typing would cost every spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any


NOTSET = 0
SUBDEBUG = 5
DEBUG = 10
INFO = 20
SUBWARNING = 25
WARNING = 30

LOGGER_NAME = "multiprocessing"
DEFAULT_LOGGING_FORMAT = "[%(levelname)s/%(processName)s] %(message)s"

_logger: Any = None
_log_to_stderr = False


# The five logging helpers: free when no logger was asked for (one global test).
def sub_debug(msg: object, *args: object) -> None:
    """Log *msg* at level SUBDEBUG (5) on the package's logger, if there is one."""
    if _logger:
        _logger.log(SUBDEBUG, msg, *args, stacklevel=2)


def debug(msg: object, *args: object) -> None:
    """Log *msg* at level DEBUG on the package's logger, if there is one."""
    if _logger:
        _logger.log(DEBUG, msg, *args, stacklevel=2)


def info(msg: object, *args: object) -> None:
    """Log *msg* at level INFO on the package's logger, if there is one."""
    if _logger:
        _logger.log(INFO, msg, *args, stacklevel=2)


def sub_warning(msg: object, *args: object) -> None:
    """Log *msg* at level SUBWARNING (25) on the package's logger, if there is one."""
    if _logger:
        _logger.log(SUBWARNING, msg, *args, stacklevel=2)


def warn(msg: object, *args: object) -> None:
    """Log *msg* at level WARNING on the package's logger, if there is one."""
    if _logger:
        _logger.log(WARNING, msg, *args, stacklevel=2)


def get_logger() -> Any:
    """Return the ``'multiprocessing'`` logger (made on first call, not propagating)."""
    global _logger
    import logging

    if not _logger:
        made = logging.getLogger(LOGGER_NAME)
        made.propagate = False
        made.addFilter(_name_process)
        _logger = made
    return _logger


def _name_process(record: Any) -> bool:
    # logging takes %(processName)s from the stdlib's multiprocessing; in a child that
    # treadle started, the name is treadle's (a stdlib child keeps the stdlib's).
    me = process.current_process()
    if me is not None and me._parent_pid is not None:
        record.processName = me.name
    return True


def log_to_stderr(level: int | str | None = None) -> Any:
    """Send the package's log records to stderr; set *level* if given; return the logger."""
    global _log_to_stderr
    logger = get_logger()
    logger.addHandler(_stderr_handler())
    _log_to_stderr = True
    if level:
        logger.setLevel(level)
    return logger


def _stderr_handler() -> Any:
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(DEFAULT_LOGGING_FORMAT))
    return handler


# ---------------------------------------------------------------------------------------
# Abstract socket namespace (Linux).

abstract_sockets_supported = _native.PLATFORM in ("linux", "android")


_NUL_PREFIXES = ("\0", b"\0")


def is_abstract_socket_namespace(address: str | bytes | None) -> bool:
    """Whether *address* names a socket in Linux's abstract namespace (leading NUL)."""
    if isinstance(address, (str, bytes)):
        return address[:1] in _NUL_PREFIXES
    if address:
        raise TypeError(f"address type of {address!r} unrecognized")
    return False


# ---------------------------------------------------------------------------------------
# The per-process temporary directory (sockets of listeners live there).

# sun_path is 108 bytes on Linux; the directory plus "/pymp-XXXXXXXX/sock-XXXXXXXXXXXX"
# must fit, or the base falls back to the system's /tmp.
_SUN_PATH_MAX = 108 if _native.PLATFORM.startswith("linux") else 104
_SOCKET_PATH_RESERVE = len("/pymp-") + 8 + len("/sock-") + 12


def _base_temp_dir() -> str:
    import tempfile

    base = tempfile.gettempdir()
    if len(base) + _SOCKET_PATH_RESERVE < _SUN_PATH_MAX:
        return base
    for candidate in ("/tmp", "/var/tmp", "/usr/tmp"):
        if os.access(candidate, os.W_OK | os.X_OK):
            warn("Ignoring user-defined temporary directory: %s", base)
            return candidate
    return base


def _drop_temp_dir(rmtree: Callable[[str], None], path: str) -> None:
    rmtree(path)
    me = process.current_process()
    if me is not None:
        me._config["tempdir"] = None


def get_temp_dir() -> str:
    """Return this process's private temporary directory, removed at exit."""
    config = process.current_process()._config
    made: str | None = config.get("tempdir")  # None also once it was removed
    if made is None:
        made = config["tempdir"] = _make_temp_dir()
    return made


def _make_temp_dir() -> str:
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="pymp-", dir=_base_temp_dir())
    info("created temp directory %s", path)
    # shutil.rmtree is bound now: the finalizer may run late in shutdown.
    Finalize(None, _drop_temp_dir, args=(shutil.rmtree, path), exitpriority=-100)
    return path


# ---------------------------------------------------------------------------------------
# After-fork hooks (run in a child started with the fork method).

_afterfork_registry: weakref.WeakValueDictionary[tuple[int, int, Any], Any] = (
    weakref.WeakValueDictionary()
)
_afterfork_counter = itertools.count()


def register_after_fork(obj: Any, func: Callable[[Any], object]) -> None:
    """Call ``func(obj)`` in each child started with fork, while *obj* is alive."""
    _afterfork_registry[(next(_afterfork_counter), id(obj), func)] = obj


def run_after_forkers() -> None:
    """Run the registered after-fork hooks, oldest first; errors are logged, not raised."""
    if not _afterfork_registry:
        return  # the usual case, in every fork child: nothing to sort or copy
    order = sorted(_afterfork_registry.keys(), key=_registration_number)
    for key in order:
        obj = _afterfork_registry.get(key)
        if obj is not None:
            _call_logging_errors(key[2], obj)


def _registration_number(key: tuple[int, int, Any]) -> int:
    return key[0]


def _call_logging_errors(func: Callable[[Any], object], obj: Any) -> None:
    try:
        func(obj)
    except Exception as exc:
        info("after forker raised exception %s", exc)


_run_after_forkers = run_after_forkers  # the stdlib's name, for code that reaches it


# ---------------------------------------------------------------------------------------
# Finalizers.

_finalizer_registry: dict[tuple[int | None, int], Finalize] = {}
_finalizer_counter = itertools.count()


class Finalize:
    """Call ``callback(*args, **kwargs)`` once: when *obj* dies, or at exit.

    With an *exitpriority* the callback also runs at interpreter exit (higher priorities
    first, later registrations first within one priority); without one it runs only
    when *obj* is garbage collected or the finalizer is called. Only the process that
    made the finalizer runs it.
    """

    def __init__(
        self,
        obj: Any,
        callback: Callable[..., Any],
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        exitpriority: int | None = None,
    ) -> None:
        if exitpriority is not None and not isinstance(exitpriority, int):
            raise TypeError(
                f"Exitpriority ({exitpriority!r}) must be None or int, not {type(exitpriority)}"
            )
        self._weakref: weakref.ref[Any] | None = None
        if obj is not None:
            self._weakref = weakref.ref(obj, self)
        elif exitpriority is None:
            raise ValueError("Without object, exitpriority cannot be None")
        self._callback: Callable[..., Any] | None = callback
        self._args: Any = args
        self._kwargs: Any = kwargs or {}
        self._key: Any = (exitpriority, next(_finalizer_counter))
        self._pid = os.getpid()
        _finalizer_registry[self._key] = self
        if exitpriority is not None:
            _hook_exit()  # the stdlib runs these at exit even if no process was started

    def _forget(self) -> None:
        self._weakref = self._callback = self._args = self._kwargs = self._key = None

    def __call__(
        self,
        wr: object = None,
        _registry: dict[Any, Any] = _finalizer_registry,
        _getpid: Callable[[], int] = os.getpid,
    ) -> Any:
        """Run the callback if it is still pending in this process; return its result."""
        # Module globals may already be gone when this runs late in shutdown: every
        # name it needs is a default argument.
        if _registry.pop(self._key, None) is None:
            return None
        callback, args, kwargs = self._callback, self._args, self._kwargs
        # What _forget() does, inline: every Popen's finalizer runs this.
        self._weakref = self._callback = self._args = self._kwargs = self._key = None
        if self._pid != _getpid() or callback is None:
            return None
        return callback(*args, **kwargs)

    def cancel(self) -> None:
        """Drop the callback without calling it."""
        if _finalizer_registry.pop(self._key, None) is not None:
            self._forget()

    def still_active(self) -> bool:
        """Whether the callback has neither run nor been cancelled."""
        return self._key in _finalizer_registry

    def __repr__(self) -> str:
        obj = self._weakref() if self._weakref is not None else None
        if obj is None:
            return f"<{type(self).__name__} object, dead>"
        parts = [f"<{type(self).__name__} object, callback="]
        parts.append(str(getattr(self._callback, "__name__", self._callback)))
        if self._args:
            parts.append(f", args={self._args}")
        if self._kwargs:
            parts.append(f", kwargs={self._kwargs}")
        if self._key[0] is not None:
            parts.append(f", exitpriority={self._key[0]}")
        return "".join(parts) + ">"


def _run_finalizers(minpriority: int | None = None) -> None:
    """Run the finalizers that have an exit priority (at least *minpriority* if given).

    Highest priority first; within one priority the newest first. With no
    *minpriority*, every finalizer left afterwards is dropped.
    """
    registry: dict[Any, Any] | None = _finalizer_registry
    if not registry:  # empty, or module globals cleared late in shutdown
        return
    # Copying the keys is atomic; the registry may change while the callbacks run.
    due = [
        key
        for key in list(registry)
        if key[0] is not None and (minpriority is None or key[0] >= minpriority)
    ]
    due.sort(reverse=True)
    for key in due:
        finalizer = registry.get(key)
        if finalizer is None:
            continue
        sub_debug("calling %s", finalizer)
        try:
            finalizer()
        except Exception:
            import traceback

            traceback.print_exc()
    if minpriority is None:
        registry.clear()


# ---------------------------------------------------------------------------------------
# Exit.

_exiting: bool | None = False


def is_exiting() -> bool:
    """Whether this process has begun shutting down."""
    return _exiting is None or _exiting


def _exit_function(
    _info: Callable[..., None] = info,
    _debug: Callable[..., None] = debug,
    _finalizers: Callable[[int | None], None] = _run_finalizers,
    _process: Any = process,
) -> None:
    """Run at exit: finalizers >= 0, stop daemon children, join the others, the rest."""
    global _exiting
    first_call = not _exiting
    _exiting = True
    if first_call:
        # Every process runs this at its end, a fork child included, where each object
        # touched is a page copied: the log calls are skipped when there is no logger.
        logging = bool(_logger)
        if logging:
            _info("process shutting down")
            _debug('running all "atexit" finalizers with priority >= 0')
        _finalizers(0)
        # current_process() is None only when the module's globals were torn down.
        if _process._children and _process.current_process() is not None:
            _stop_children(_process, _info)
        if logging:
            _debug('running the remaining "atexit" finalizers')
        _finalizers(None)


def _stop_children(_process: Any, _info: Callable[..., None]) -> None:
    # Daemon children are told to stop (SIGTERM), then every child is reaped.
    daemons = [child for child in _process.active_children() if child.daemon]
    for daemon in daemons:
        _info("calling terminate() for daemon %s", daemon.name)
        daemon._popen.terminate()
    for child in _process.active_children():
        _info("calling join() for process %s", child.name)
        child.join()


_exit_hooked = False


def _hook_exit() -> None:
    """Make sure :func:`_exit_function` runs at interpreter exit (once per process)."""
    global _exit_hooked
    if _exit_hooked:
        return
    _exit_hooked = True
    try:
        _native.register_exit_hook(_exit_function)
    except RuntimeError:  # shutdown has begun: atexit is all that is left
        import atexit

        atexit.register(_exit_function)


def _hook_child_exit() -> None:
    """In a new child: run :func:`_exit_function` from atexit, as the stdlib does.

    (A fork child dropped the atexit handlers it inherited; a spawned one has none.)
    """
    global _exit_hooked, _exiting
    import atexit

    _exit_hooked = True
    _exiting = False
    atexit.register(_exit_function)


# ---------------------------------------------------------------------------------------
# Descriptors and starting helper processes.

try:
    MAXFD = os.sysconf("SC_OPEN_MAX")
except (AttributeError, ValueError, OSError):
    MAXFD = 256


def close_all_fds_except(fds: Iterable[int]) -> None:
    """Close every descriptor of this process except *fds*."""
    keep = sorted({-1, *fds})
    if keep[-1] >= MAXFD:
        raise ValueError("fd too large")
    bounds = [*keep, MAXFD]
    for low, high in itertools.pairwise(bounds):
        if high - low > 1:
            os.closerange(low + 1, high)


def close_fds(*fds: int) -> None:
    """Close each descriptor given."""
    for fd in fds:
        os.close(fd)


def spawnv_passfds(path: str | bytes, args: Iterable[str | bytes], passfds: Iterable[int]) -> int:
    """fork+exec *path* with *args* (no shell), keeping only *passfds* open; return the pid."""
    argv = [os.fsencode(arg) for arg in args]
    return _native.fork_exec_passfds(os.fsencode(path), argv, tuple(int(fd) for fd in passfds))


def _close_stdin() -> None:
    # A child does not read its parent's stdin: it gets /dev/null instead. (One function,
    # no helpers: every child runs it, and in a fork child every object touched is a
    # page copied.)
    old = sys.stdin
    if old is None:
        return
    try:
        old.close()
    except (OSError, ValueError):
        pass
    try:
        fd = os.open(os.devnull, os.O_RDONLY)
    except OSError:
        return
    try:
        sys.stdin = open(fd, encoding="utf-8", closefd=False)  # noqa: SIM115 - kept open
    except BaseException as exc:
        os.close(fd)
        if not isinstance(exc, (OSError, ValueError)):
            raise


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError):
            pass


def _cleanup_tests() -> None:
    """Stop what the package left running; CPython's tests call this after a suite."""
    process._cleanup()
    for module_name, attr in (("_forkserver", "_stop"), ("_tracker", "_stop")):
        try:
            module = __import__(f"{__package__}.{module_name}", fromlist=[attr])
        except ImportError:
            continue
        stop = getattr(module, attr, None)
        if stop is not None:
            stop()
    _run_finalizers()
    import gc

    gc.collect()
    try:
        from test import support  # type: ignore[import-not-found,unused-ignore]

        support.reap_children()
    except ImportError:
        pass
