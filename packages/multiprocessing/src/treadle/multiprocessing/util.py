"""treadle.multiprocessing.util: logging, finalizers, after-fork hooks and helpers."""

from ._forkaware import ForkAwareLocal, ForkAwareThreadLock
from ._native import publish as _publish

# Also the private names CPython's tests reach (the registries, the exit function).
from ._util import (  # noqa: F401
    _SUN_PATH_MAX,
    DEBUG,
    DEFAULT_LOGGING_FORMAT,
    INFO,
    LOGGER_NAME,
    NOTSET,
    SUBDEBUG,
    SUBWARNING,
    WARNING,
    Finalize,
    _afterfork_registry,
    _cleanup_tests,
    _close_stdin,
    _exit_function,
    _finalizer_registry,
    _flush_std_streams,
    _run_after_forkers,
    _run_finalizers,
    close_all_fds_except,
    close_fds,
    debug,
    get_logger,
    get_temp_dir,
    info,
    is_abstract_socket_namespace,
    is_exiting,
    log_to_stderr,
    register_after_fork,
    spawnv_passfds,
    sub_debug,
    sub_warning,
    warn,
)
from ._util import abstract_sockets_supported as abstract_sockets_supported  # noqa: PLC0414 - re-exported, not in the stdlib's __all__

__all__ = [
    "SUBDEBUG",
    "SUBWARNING",
    "WARNING",
    "Finalize",
    "ForkAwareLocal",
    "ForkAwareThreadLock",
    "close_all_fds_except",
    "close_fds",
    "debug",
    "get_logger",
    "get_temp_dir",
    "info",
    "is_abstract_socket_namespace",
    "is_exiting",
    "log_to_stderr",
    "register_after_fork",
    "spawnv_passfds",
    "sub_debug",
    "sub_warning",
    "warn",
]

_publish(globals())
