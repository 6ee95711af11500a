"""The forkserver: the server process that forks the children of the 'forkserver' method.

:func:`ensure_running` starts it (the first 'forkserver' process does so itself),
:func:`set_forkserver_preload` names the modules it imports before forking. Every
client of its control socket must authenticate with the server's key.
"""

from __future__ import annotations

from . import _native
from ._forkserver import (
    MAXFDS_TO_SEND,
    SIGNED_STRUCT,
    ForkServer,
    connect_to_new_process,
    ensure_running,
    get_inherited_fds,
    main,
    read_signed,
    set_forkserver_preload,
    write_signed,
)
from ._forkserver import _forkserver as _forkserver  # noqa: PLC0414 - CPython's tests use it

__all__ = [
    "MAXFDS_TO_SEND",
    "SIGNED_STRUCT",
    "ForkServer",
    "connect_to_new_process",
    "ensure_running",
    "get_inherited_fds",
    "main",
    "read_signed",
    "set_forkserver_preload",
    "write_signed",
]

_native.publish(globals())
