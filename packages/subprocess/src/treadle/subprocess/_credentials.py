"""Popen's ``user``, ``group`` and ``extra_groups``: names and numbers to numeric ids."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

try:
    import grp
except ImportError:  # no group database (Windows, WASI): numbers only
    grp = None  # type: ignore[assignment]
try:
    import pwd
except ImportError:
    pwd = None  # type: ignore[assignment]

__all__ = ["extra_group_ids", "group_id", "user_id"]


def _numeric_id(
    value: object, kind: str, lookup: Callable[[str], int] | None, no_names: str, bad_type: str
) -> int:
    """*value* as a numeric id: an int as it is (if not negative), a str through *lookup*."""
    if isinstance(value, int):
        if value >= 0:
            return value
        raise ValueError(f"{kind} ID cannot be negative, got {value}")
    if isinstance(value, str):
        if lookup is None:
            raise ValueError(no_names)
        return lookup(value)  # KeyError for an unknown name, as in the stdlib
    raise TypeError(bad_type)


def _gid_of(name: str) -> int:
    return grp.getgrnam(name).gr_gid


def _uid_of(name: str) -> int:
    return pwd.getpwnam(name).pw_uid


def user_id(user: Any) -> int:
    """Return the uid Popen's *user* stands for."""
    return _numeric_id(
        user,
        "User",
        None if pwd is None else _uid_of,
        "The user parameter cannot be a string on systems without the pwd module",
        "User must be a string or an integer",
    )


def group_id(group: Any) -> int:
    """Return the gid Popen's *group* stands for."""
    return _numeric_id(
        group,
        "Group",
        None if grp is None else _gid_of,
        "The group parameter cannot be a string on systems without the grp module",
        "Group must be a string or an integer",
    )


def extra_group_ids(groups: Iterable[Any]) -> list[int]:
    """Return the gids Popen's *extra_groups* stand for, in order."""
    lookup = None if grp is None else _gid_of
    return [
        _numeric_id(
            item,
            "Group",
            lookup,
            "Items in extra_groups cannot be strings on systems without the grp module",
            f"Items in extra_groups must be a string or integer, not {type(item).__name__}",
        )
        for item in groups
    ]
