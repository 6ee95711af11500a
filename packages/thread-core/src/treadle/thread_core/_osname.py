"""OS-level thread names: ``set_name`` and ``_get_name`` on every Python.

3.14 names the OS thread (what ``top -H``, ``ps -L``, debuggers and ``/proc`` show) when
a thread starts. Older versions cannot, so treadle asks the C library itself: through
``prctl`` on Linux and ``pthread_setname_np`` on macOS, loaded with ctypes the first
time a name is set (ctypes costs milliseconds to import, which a program that never
names a thread should not pay).

3.14's rules, followed here on every version: the name is encoded with the filesystem
encoding, characters it cannot encode become ``?``, and the bytes are cut at the
platform's limit (``_NAME_MAXLEN``, 15 on Linux), even inside a multi-byte character.
"""

from __future__ import annotations

import _thread
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

__all__ = ["NAME_MAXLEN", "get_name", "set_name"]

NAME_MAXLEN: int | None
set_name: Callable[[str], None] | None
get_name: Callable[[], str | None]

if sys.version_info >= (3, 14):
    NAME_MAXLEN = _thread._NAME_MAXLEN  # type: ignore[attr-defined]
    set_name = getattr(_thread, "set_name", None)
    get_name = _thread._get_name  # type: ignore[attr-defined]
else:
    if TYPE_CHECKING:
        import ctypes

    _PR_SET_NAME = 15
    _PR_GET_NAME = 16

    _libc_cache: list[ctypes.CDLL] = []

    def _libc() -> ctypes.CDLL:
        if not _libc_cache:
            import ctypes  # noqa: PLC0415

            _libc_cache.append(ctypes.CDLL(None, use_errno=True))
        return _libc_cache[0]

    def _encode(name: str, limit: int) -> bytes:
        if not isinstance(name, str):
            raise TypeError(f"set_name() argument 'name' must be str, not {type(name).__name__}")
        # As in 3.14, a NUL ends the name where the C library sees it.
        return name.encode(sys.getfilesystemencoding(), "replace")[:limit]

    if sys.platform.startswith("linux"):
        NAME_MAXLEN = 15
        # Fixed once the interpreter has started.
        _FS_ENCODING = sys.getfilesystemencoding()
        _prctl: list[Any] = []

        def _load_prctl() -> Any:
            import ctypes  # noqa: PLC0415

            # Every Thread.start() names its thread: PyDLL keeps the GIL across this
            # short system call, sparing a release and re-take of the GIL each time.
            _prctl.append(ctypes.PyDLL(None, use_errno=True).prctl)
            return _prctl[0]

        def _linux_set_name(name: str) -> None:
            """Set the name of the current OS thread."""
            if not isinstance(name, str):
                raise TypeError(
                    f"set_name() argument 'name' must be str, not {type(name).__name__}"
                )
            # As in 3.14, a NUL ends the name where the C library sees it.
            raw = name.encode(_FS_ENCODING, "replace")[:15]
            prctl = _prctl[0] if _prctl else _load_prctl()
            if prctl(_PR_SET_NAME, raw, 0, 0, 0) != 0:  # pragma: no cover
                import ctypes  # noqa: PLC0415

                err = ctypes.get_errno()
                raise OSError(err, "prctl(PR_SET_NAME) failed")

        def _linux_get_name() -> str | None:
            """Return the name of the current OS thread."""
            import ctypes  # noqa: PLC0415

            buf = ctypes.create_string_buffer(16)
            if _libc().prctl(_PR_GET_NAME, buf, 0, 0, 0) != 0:  # pragma: no cover
                return None
            return buf.value.decode(sys.getfilesystemencoding(), "surrogateescape")

        set_name = _linux_set_name
        get_name = _linux_get_name
    elif sys.platform == "darwin":  # pragma: no cover - not tested on these machines
        NAME_MAXLEN = 63

        def _darwin_set_name(name: str) -> None:
            """Set the name of the current OS thread."""
            raw = _encode(name, 63)
            if _libc().pthread_setname_np(raw) != 0:
                raise OSError("pthread_setname_np failed")

        def _darwin_get_name() -> str | None:
            """Return the name of the current OS thread."""
            import ctypes  # noqa: PLC0415

            buf = ctypes.create_string_buffer(64)
            lib = _libc()
            if lib.pthread_getname_np(lib.pthread_self(), buf, 64) != 0:
                return None
            return buf.value.decode(sys.getfilesystemencoding(), "surrogateescape")

        set_name = _darwin_set_name
        get_name = _darwin_get_name
    else:  # pragma: no cover - as in 3.14, no set_name where the platform has none
        NAME_MAXLEN = None
        set_name = None

        def _no_get_name() -> str | None:
            return None

        get_name = _no_get_name
