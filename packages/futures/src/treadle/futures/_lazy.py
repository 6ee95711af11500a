"""The executors that live in other treadle distributions, loaded on first use."""

from __future__ import annotations

import importlib

__all__ = ["lazy_attribute"]

# name -> (module that provides it, the extra that makes it work). The modules are
# imported on first access only: ``import treadle.futures`` never imports multiprocessing.
_LAZY = {
    "ProcessPoolExecutor": ("treadle.futures.process", "process"),
    "InterpreterPoolExecutor": ("treadle.futures.interpreter", "interpreters"),
}


def lazy_attribute(module: str, name: str) -> object:
    """Resolve *name* of *module* from its lazy table, or raise AttributeError."""
    if name in _LAZY and module == "treadle.futures":
        where, _extra = _LAZY[name]
        return getattr(importlib.import_module(where), name)
    raise AttributeError(f"module {module!r} has no attribute {name!r}")


def missing(name: str, extra: str, dist: str) -> ImportError:
    """Return the error for *name*, whose distribution is not installed."""
    return ImportError(
        f"treadle.futures.{name} needs {dist}, which is not released yet; it will come "
        f"with the extra treadle-futures[{extra}]"
    )
