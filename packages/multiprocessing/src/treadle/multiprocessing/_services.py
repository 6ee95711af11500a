"""The long-lived helper processes this package runs, and the descriptors that reach them.

The resource tracker and the forkserver outlive the call that started them: they are
children of this process for as long as it runs, and it keeps a descriptor to each. A
leak check (treadle's pytest plugin) asks :func:`live` for them so that it can tell a
service from a leak; nothing else in the package needs this module.
"""

from __future__ import annotations

import os
import sys

__all__ = ["announce", "command", "live", "withdraw"]

# Keyed by the id of the object that handles the service (a tracker or forkserver end).
_running: dict[int, tuple[int | None, tuple[int, ...]]] = {}


def announce(handle: object, pid: int | None, fds: tuple[int, ...]) -> None:
    """Record that *handle*'s service runs as *pid* (None: not our child), reached by *fds*."""
    _running[id(handle)] = (pid, fds)


def withdraw(handle: object) -> None:
    """Forget *handle*'s service: it stopped, or this process let go of it."""
    _running.pop(id(handle), None)


def live() -> tuple[frozenset[int], frozenset[int]]:
    """Return the pids of the running services and the descriptors held to reach them."""
    pids = {pid for pid, _ in _running.values() if pid is not None}
    fds = {fd for _, held in _running.values() for fd in held}
    return frozenset(pids), frozenset(fds)


def command(code: str) -> list[str]:
    """Return the command line that runs *code* in a new interpreter for a service.

    The interpreter is the one children are started with (``set_executable``), with this
    interpreter's flags; the code is preceded by what makes ``treadle`` importable there
    even when this process found it through a path added at run time.
    """
    from . import _native  # noqa: PLC0415 - only the processes that start services need it

    try:
        from ._spawn import get_executable  # noqa: PLC0415 - the process core imports us

        executable = os.fspath(get_executable())
    except ImportError:  # pragma: no cover - only while the package is being assembled
        executable = sys.executable
    import treadle  # noqa: PLC0415 - the namespace package: where its portions live

    roots = [os.path.dirname(portion) for portion in treadle.__path__]
    prelude = f"import sys; sys.path += [p for p in {roots!r} if p not in sys.path]; "
    return [executable, *_native.interpreter_flags(), "-c", prelude + code]
