"""Find which part of a call does not pickle, to name it in the error.

Pickling is tried once, by whoever sends the call; only when that fails are the parts
walked, to report the path of the innermost object that still fails (``args[1]['lock']``).
A small walker of futures' own: treadle.futures may not depend on multiprocessing, whose
``_picklecheck`` serves its Process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from types import FunctionType
from typing import Any

__all__ = ["describe_unpicklable", "find_unpicklable"]

_MAX_DEPTH = 12
_MAX_CHILDREN = 1000


def _children(path: str, obj: object) -> Iterator[tuple[str, object]]:
    """Yield the parts of *obj* that pickling it pickles too, each with its path."""
    if isinstance(obj, dict):
        for key, value in list(obj.items())[:_MAX_CHILDREN]:
            yield f"{path}<key {key!r}>", key
            yield f"{path}[{key!r}]", value
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for index, item in enumerate(list(obj)[:_MAX_CHILDREN]):
            yield f"{path}[{index}]", item
    elif isinstance(obj, functools.partial):
        yield f"{path}.func", obj.func
        yield f"{path}.args", obj.args
        yield f"{path}.keywords", obj.keywords
    elif isinstance(obj, FunctionType):  # a function: what it closes over
        names = obj.__code__.co_freevars
        for name, cell in zip(names, obj.__closure__ or (), strict=False):
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            yield f"{path}.<closure {name}>", value
        yield f"{path}.__defaults__", obj.__defaults__
    else:
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict):
            for name, value in list(state.items())[:_MAX_CHILDREN]:
                yield f"{path}.{name}", value


def _walk(
    path: str, obj: object, dumps: Callable[[Any], object], depth: int
) -> tuple[str, object, BaseException] | None:
    try:
        dumps(obj)
    except Exception as exc:
        error = exc
    else:
        return None
    if depth < _MAX_DEPTH:
        for child_path, child in _children(path, obj):
            found = _walk(child_path, child, dumps, depth + 1)
            if found is not None:
                return found
    return path, obj, error


def find_unpicklable(
    parts: Iterable[tuple[str, object]], dumps: Callable[[Any], object]
) -> tuple[str, object, BaseException] | None:
    """Return ``(path, object, error)`` for the innermost part that *dumps* refuses.

    *parts* are ``(name, object)`` pairs, the roots of the paths. None if all pickle.
    """
    for name, obj in parts:
        found = _walk(name, obj, dumps, 0)
        if found is not None:
            return found
    return None


def describe_unpicklable(
    parts: Iterable[tuple[str, object]], dumps: Callable[[Any], object]
) -> str | None:
    """Return a sentence naming the part of *parts* that does not pickle, or None."""
    found = find_unpicklable(parts, dumps)
    if found is None:
        return None
    path, obj, error = found
    return f"{path} (a {type(obj).__qualname__}) cannot be pickled: {error}"
