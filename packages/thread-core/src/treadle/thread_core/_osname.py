"""OS-level thread names, ``set_name`` and ``_get_name``, for versions before 3.14.

3.14 names the OS thread (what ``top -H``, ``ps -L``, debuggers and ``/proc`` show) when
a thread starts. Older versions cannot, so treadle asks the C library itself: through
``prctl`` on Linux and ``pthread_setname_np`` on macOS, loaded with ctypes the first
time a name is set (ctypes costs milliseconds to import, which a program that never
names a thread should not pay). :mod:`._native` takes the names from here only before
3.14.

3.14's rules, followed here: the name is encoded with the filesystem encoding,
characters it cannot encode become ``?``, and the bytes are cut at the platform's limit
(``NAME_MAXLEN``, 15 on Linux), even inside a multi-byte character. Where the platform
has no way to name a thread there is no ``set_name``, as in 3.14.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import ctypes

__all__ = ["NAME_MAXLEN", "get_name", "set_name"]

NAME_MAXLEN: int | None

# Fixed once the interpreter has started.
_FS_ENCODING = sys.getfilesystemencoding()

# The C library, loaded on first use.
_libc: ctypes.CDLL | None = None


def _load_libc() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        import ctypes  # noqa: PLC0415

        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _encoded(name: str, limit: int) -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"set_name() argument 'name' must be str, not {type(name).__name__}")
    # As in 3.14, a NUL ends the name where the C library sees it.
    return name.encode(_FS_ENCODING, "replace")[:limit]


def _read_name(size: int, fill: Any) -> str | None:
    # *fill* writes the NUL-terminated name into the buffer it is given, returning 0.
    import ctypes  # noqa: PLC0415

    buf = ctypes.create_string_buffer(size)
    if fill(buf) != 0:  # pragma: no cover - only for a failing C library
        return None
    return buf.value.decode(_FS_ENCODING, "surrogateescape")


if sys.platform.startswith("linux"):
    NAME_MAXLEN = 15
    _PR_SET_NAME = 15
    _PR_GET_NAME = 16
    # prctl through a PyDLL, loaded on first use: it keeps the GIL across this short
    # system call, sparing a release and re-take of the GIL at every Thread.start().
    _prctl: Any = None

    def set_name(name: str) -> None:
        """Set the name of the current OS thread."""
        global _prctl
        raw = _encoded(name, 15)
        if _prctl is None:
            import ctypes  # noqa: PLC0415

            _prctl = ctypes.PyDLL(None, use_errno=True).prctl
        if _prctl(_PR_SET_NAME, raw, 0, 0, 0) != 0:  # pragma: no cover
            import ctypes  # noqa: PLC0415

            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME) failed")

    def get_name() -> str | None:
        """Return the name of the current OS thread."""
        prctl = _load_libc().prctl
        return _read_name(16, lambda buf: prctl(_PR_GET_NAME, buf, 0, 0, 0))

elif sys.platform == "darwin":  # pragma: no cover - not tested on these machines
    NAME_MAXLEN = 63

    def set_name(name: str) -> None:
        """Set the name of the current OS thread."""
        if _load_libc().pthread_setname_np(_encoded(name, 63)) != 0:
            raise OSError("pthread_setname_np failed")

    def get_name() -> str | None:
        """Return the name of the current OS thread."""
        lib = _load_libc()
        return _read_name(64, lambda buf: lib.pthread_getname_np(lib.pthread_self(), buf, 64))

else:  # pragma: no cover - as in 3.14, no set_name where the platform has none
    NAME_MAXLEN = None

    def get_name() -> str | None:
        """Return None: this platform gives threads no names."""
        return None
