"""Command-line options that start a child interpreter configured like this one.

test.support and other tools look these up as ``subprocess._args_from_interpreter_flags``
and ``subprocess._optim_args_from_interpreter_flags``.
"""

from __future__ import annotations

import sys

from . import _native

__all__ = ["args_from_interpreter_flags", "optim_args_from_interpreter_flags"]

# sys.flags attribute -> option letter repeated by the flag's level (-vv, -bb, ...).
_REPEATED = (
    ("debug", "d"),
    ("dont_write_bytecode", "B"),
    ("no_site", "S"),
    ("verbose", "v"),
    ("bytes_warning", "b"),
    ("quiet", "q"),
)


def optim_args_from_interpreter_flags() -> list[str]:
    """``['-O']`` or ``['-OO']`` reproducing sys.flags.optimize, else ``[]``."""
    level = sys.flags.optimize
    return ["-" + "O" * level] if level > 0 else []


def _discard(options: list[str], option: str) -> None:
    if option in options:
        options.remove(option)


def args_from_interpreter_flags() -> list[str]:
    """Options reproducing sys.flags, sys.warnoptions and the ``-X`` options."""
    flags = sys.flags
    result = optim_args_from_interpreter_flags()
    result += [
        "-" + letter * getattr(flags, name)
        for name, letter in _REPEATED
        if getattr(flags, name) > 0
    ]
    if flags.isolated:
        result.append("-I")  # implies -E, -s and -P
    else:
        for name, option in (
            ("ignore_environment", "-E"),
            ("no_user_site", "-s"),
            ("safe_path", "-P"),
        ):
            if getattr(flags, name, 0):
                result.append(option)

    # Warning filters that -b/-bb and -X dev add themselves are not repeated as -W.
    warnings = list(sys.warnoptions)
    if flags.bytes_warning > 1:
        _discard(warnings, "error::BytesWarning")
    elif flags.bytes_warning:
        _discard(warnings, "default::BytesWarning")
    if flags.dev_mode:
        _discard(warnings, "default")
    result += ["-W" + w for w in warnings]

    xoptions = _native.xoptions()
    if flags.dev_mode:
        result += ["-X", "dev"]
    for key in sorted(k for k in xoptions if k != "dev"):
        value = xoptions[key]
        result += ["-X", key if value is True else f"{key}={value}"]
    return result
