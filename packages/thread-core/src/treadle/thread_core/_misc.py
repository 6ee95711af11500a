"""The small functions of ``_thread``: stack size, interrupting the main thread, exit."""

from __future__ import annotations

import signal
from typing import NoReturn, cast

from ._native import native_interrupt_main, native_stack_size, stack_size_minimum

__all__ = ["exit", "interrupt_main", "stack_size"]


def stack_size(size: int = 0, /) -> int:
    """Set the stack size for threads started later; return the previous one.

    *size* is 0 (the platform's default) or at least the minimum 3.14 accepts
    (ValueError otherwise, and the setting is unchanged). As in the stdlib, calling it
    without an argument returns the current size and sets it back to the default.
    """
    if isinstance(size, float) or not hasattr(size, "__index__"):
        raise TypeError(f"'{type(size).__name__}' object cannot be interpreted as an integer")
    value = size.__index__()
    if value != 0 and value < stack_size_minimum():
        raise ValueError(f"size must be at least {stack_size_minimum()} bytes")
    return native_stack_size(value)


def interrupt_main(signum: int = signal.SIGINT, /) -> None:
    """Simulate the arrival of signal *signum* (SIGINT by default) in the main thread."""
    # typeshed asks for a Signals member; the interpreter takes any int and checks it.
    native_interrupt_main(cast("signal.Signals", signum))


def exit() -> NoReturn:
    """Raise SystemExit, which ends the current thread silently unless caught."""
    raise SystemExit
