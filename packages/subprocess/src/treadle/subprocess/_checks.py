"""Argument checks shared by Popen and the convenience functions.

Each check runs before anything is created, so bad input leaves nothing behind. The
stdlib's own messages are kept where it has one; treadle's keywords (``tee``,
``kill_tree``) follow one rule: the documented type, or a TypeError naming the argument.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from treadle.thread_core.support import check_timeout

from ._errors import SubprocessError

__all__ = [
    "check_bufsize",
    "check_flag",
    "check_pipesize",
    "check_tee",
    "refuse_windows_only",
    "text_requested",
    "timeout_seconds",
]


def timeout_seconds(timeout: object) -> float | None:
    """Seconds *timeout* stands for (None: no limit), by the package's one timeout rule.

    As in the stdlib any real number is accepted, negative ones too (they mean "do not
    wait"), and so is a bool, which the stdlib's arithmetic takes as 0 or 1 second;
    anything else is a TypeError and NaN a ValueError, both naming ``timeout``.
    """
    return check_timeout(timeout)


def text_requested(
    text: object, universal_newlines: object, encoding: object, errors: object
) -> bool:
    """Whether these Popen arguments ask for text-mode pipes (any one of them does)."""
    both = text is not None and universal_newlines is not None
    if both and bool(text) != bool(universal_newlines):
        raise SubprocessError(
            "Cannot disambiguate when both text and universal_newlines are "
            "supplied but different. Pass one or the other."
        )
    return bool(text or universal_newlines or encoding or errors)


def check_bufsize(bufsize: object, text_mode: bool) -> tuple[int, bool]:
    """Return (buffer size for open(), whether text stdin is line-buffered)."""
    if bufsize is None:
        return -1, False
    if not isinstance(bufsize, int):
        raise TypeError("bufsize must be an integer")
    if bufsize != 1:
        return bufsize, False
    if not text_mode:
        warnings.warn(
            "line buffering (buffering=1) isn't supported in binary mode, "
            "the default buffer size will be used",
            RuntimeWarning,
            stacklevel=4,
        )
    return -1, text_mode


def check_pipesize(pipesize: object) -> int:
    """Return the pipe capacity to ask for (-1: the system's default)."""
    if pipesize is None:
        return -1
    if not isinstance(pipesize, int):
        raise TypeError("pipesize must be an integer")
    return pipesize


def refuse_windows_only(startupinfo: object, creationflags: object) -> None:
    """Popen's Windows-only arguments must keep their defaults on POSIX."""
    if startupinfo is not None:
        raise ValueError("startupinfo is only supported on Windows platforms")
    if creationflags != 0:
        raise ValueError("creationflags is only supported on Windows platforms")


def check_flag(value: object, name: str) -> bool:
    """Check a treadle on/off keyword: a bool, or a TypeError naming it."""
    if value is True or value is False:
        return value
    raise TypeError(f"{name!r} must be True or False, not {type(value).__name__}")


def check_tee(tee: object) -> bool | Callable[[str, Any], object]:
    """``tee``: True, False, or a callable taking (stream name, data)."""
    if tee is True or tee is False or callable(tee):
        return tee
    raise TypeError(f"'tee' must be True, False or a callable, not {type(tee).__name__}")
