"""Say *which part* of an object cannot be pickled (beyond the stdlib).

The fast path pickles once and never comes here; only after a failure does
:func:`find_unpicklable` walk the object (items of containers, attributes of instances,
the parts of a ``functools.partial``...), pickling each part alone, down to the deepest
part that still fails: ``args[1].callback: <lambda> is not picklable``.

Reusable by the process pool: ``find_unpicklable(obj, "fn")`` returns the path.
"""

# Imports inside functions are deliberate throughout: a spawned child imports this
# package, and must not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import functools
import io
import pickle
import sys
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["check_main_importable", "describe", "find_unpicklable", "raise_for"]

_MAX_DEPTH = 12


def _pickles(obj: object) -> bool:
    from ._reduction import ForkingPickler

    try:
        ForkingPickler(io.BytesIO()).dump(obj)
    except Exception:
        return False
    return True


def _parts(obj: object) -> Iterator[tuple[str, object]]:
    """Yield (path suffix, part) for what pickling *obj* pickles in turn."""
    if isinstance(obj, (tuple, list)):
        for index, item in enumerate(obj):
            yield f"[{index}]", item
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield f"[{key!r}]", value
        return
    if isinstance(obj, (set, frozenset)):
        for item in obj:
            yield f"{{{item!r}}}", item
        return
    if isinstance(obj, functools.partial):
        yield ".func", obj.func
        yield from ((f".args[{i}]", a) for i, a in enumerate(obj.args))
        yield from ((f".keywords[{k!r}]", v) for k, v in obj.keywords.items())
        return
    self_of = getattr(obj, "__self__", None)
    if self_of is not None and not isinstance(self_of, type(sys)) and callable(obj):
        yield ".__self__", self_of
        return
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and not isinstance(obj, type):
        for name, value in state.items():
            yield f".{name}", value
    for slot_owner in type(obj).__mro__:
        for name in getattr(slot_owner, "__slots__", ()):
            if isinstance(name, str) and name not in ("__dict__", "__weakref__"):
                try:
                    yield f".{name}", getattr(obj, name)
                except AttributeError:
                    continue


def describe(obj: object) -> str:
    """Name *obj* shortly in a message: a function's or class's name, else its type."""
    if isinstance(obj, type) or (callable(obj) and hasattr(obj, "__qualname__")):
        return str(getattr(obj, "__qualname__", repr(obj)))
    kind = type(obj)
    return f"<{kind.__module__}.{kind.__qualname__} object>"


def find_unpicklable(
    obj: object, name: str, fails: Callable[[object], bool] | None = None
) -> tuple[str, object] | None:
    """Return (path, part) of the deepest part of *obj* that fails, None if all pickle.

    *fails* decides what failing means (default: pickling it alone raises).
    """
    failing = fails or (lambda part: not _pickles(part))
    if not failing(obj):
        return None
    path, culprit = name, obj
    seen = {id(obj)}
    for _ in range(_MAX_DEPTH):
        for suffix, part in _parts(culprit):
            if id(part) in seen:
                continue
            seen.add(id(part))
            if failing(part):
                path, culprit = path + suffix, part
                break
        else:
            break
    return path, culprit


# Attributes of a process object, named as the user gave them.
_PROCESS_NAMES = {"_target": "target", "_args": "args", "_kwargs": "kwargs"}


def _process_parts(process_obj: Any) -> Iterator[tuple[str, object]]:
    state = getattr(process_obj, "__dict__", {})
    for attr in ("_target", "_args", "_kwargs"):
        if attr in state:
            yield _PROCESS_NAMES[attr], state[attr]
    for attr, value in state.items():
        if attr not in _PROCESS_NAMES:
            yield f"self.{attr}", value


def _search_process(process_obj: Any, fails: Callable[[object], bool]) -> tuple[str, object] | None:
    for name, part in _process_parts(process_obj):
        found = find_unpicklable(part, name, fails)
        if found is not None:
            return found
    return None


def raise_for(process_obj: Any, error: Exception) -> None:
    """Re-raise *error* (same type where possible) with the path of the culprit."""
    found = _search_process(process_obj, lambda part: not _pickles(part))
    if found is None:
        return
    path, culprit = found
    message = f"{path}: {describe(culprit)} is not picklable ({error})"
    try:
        better = type(error)(message)
    except Exception:
        better = pickle.PicklingError(message)
    raise better from error


def _main_is_importable() -> bool:
    main = sys.modules.get("__main__")
    if main is None:
        return True
    if getattr(getattr(main, "__spec__", None), "name", None) is not None:
        return True
    return getattr(main, "__file__", None) is not None


def _defined_in_main(part: object) -> bool:
    if getattr(part, "__module__", None) in ("__main__", "__mp_main__") and (
        isinstance(part, type) or callable(part)
    ):
        return True
    module = getattr(type(part), "__module__", None)
    if module in ("__main__", "__mp_main__"):
        return True
    return (
        any(_defined_in_main(child) for _, child in _parts(part))
        if isinstance(part, (tuple, list, dict, functools.partial))
        else False
    )


def check_main_importable(pickled: memoryview | bytes, process_obj: Any) -> None:
    """PicklingError when the pickle needs ``__main__`` and the child cannot import it.

    A function or class defined at an interactive prompt (or in ``python -c``) is
    pickled by reference to ``__main__``, which a new interpreter cannot re-create:
    the stdlib's child dies with an AttributeError; here the parent says why, at once.
    """
    if _main_is_importable() or b"__main__" not in bytes(pickled):
        return
    found = _search_process(process_obj, _defined_in_main)
    if found is None:
        return
    path, culprit = found
    raise pickle.PicklingError(
        f"{path}: {describe(culprit)} is defined in the interactive __main__ module, "
        "which a spawn or forkserver child cannot import; define it in a module "
        "(a file) and import it from there"
    )
