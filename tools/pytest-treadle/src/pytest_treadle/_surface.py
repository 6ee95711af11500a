"""The public-surface check every treadle package runs on itself.

``check_public_surface(module, "queue")`` compares a treadle module with the public names
CPython 3.14 gives the stdlib module (``api_surface_314.json`` beside this file) and
checks where each exported class and function says it lives. It returns the problems
found, one sentence each, so that a test can assert the list is empty and show all of
them at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any

__all__ = ["check_public_surface", "stdlib_public_names"]

_DATA = Path(__file__).with_name("api_surface_314.json")


@cache
def _surface() -> dict[str, dict[str, dict[str, Any]]]:
    data: dict[str, dict[str, dict[str, Any]]] = json.loads(_DATA.read_text(encoding="utf-8"))
    return data


def stdlib_public_names(stdlib: str) -> frozenset[str]:
    """The names 3.14's *stdlib* module offers the public: no leading underscore.

    The data also lists parameters added since 3.10 as ``function(parameter)``; those are
    not names of the module and are left out.
    """
    return frozenset(n for n in _surface()[stdlib] if n.isidentifier() and not n.startswith("_"))


def _public_module(name: str) -> bool:
    parts = name.split(".")
    return parts[0] == "treadle" and len(parts) > 1 and not any(p.startswith("_") for p in parts)


def check_public_surface(
    module: ModuleType,
    stdlib: str,
    *,
    extras: Iterable[str] = (),
    absent: Mapping[str, str] | None = None,
    native: Mapping[str, str] | None = None,
) -> list[str]:
    """Return what is wrong with *module*'s public surface against 3.14's *stdlib*.

    * every public 3.14 name is an attribute of *module*, except those in *absent*
      (name -> why treadle does not offer it);
    * ``__all__`` holds the 3.14 names *module* offers plus *extras* (treadle's own
      additions), nothing else, and each of them exists;
    * each exported class and function reports *module* (or, when re-exported from a
      sibling, that public treadle module) as its ``__module__``; *native* lists the
      interpreter's own objects exported as they are (name -> why), which keep theirs.
    """
    absent = dict(absent or {})
    native = dict(native or {})
    extras = set(extras)
    expected = stdlib_public_names(stdlib)
    exported = set(getattr(module, "__all__", ()))
    problems: list[str] = []
    for name in sorted(expected - absent.keys()):
        if not hasattr(module, name):
            problems.append(f"{name}: public in 3.14's {stdlib}, missing from {module.__name__}")
    for name in sorted(expected - absent.keys() - exported):
        if hasattr(module, name):
            problems.append(f"{name}: public in 3.14's {stdlib}, not in __all__")
    for name in sorted(exported - expected - extras):
        problems.append(f"{name}: in __all__ but neither 3.14's nor a declared extra")
    for name in sorted(extras - exported):
        problems.append(f"{name}: declared extra, not in __all__")
    for name in sorted((absent.keys() | native.keys()) - expected - extras):
        problems.append(f"{name}: listed as absent or native, but not a public 3.14 name")
    for name in sorted(exported):
        obj = getattr(module, name, None)
        if name in native or not isinstance(obj, (type, FunctionType, BuiltinFunctionType)):
            continue
        owner = getattr(obj, "__module__", None) or ""
        if owner == module.__name__ or _public_module(owner) or owner == "builtins":
            continue
        problems.append(f"{name}: __module__ is {owner!r}, not {module.__name__!r}")
    return problems
