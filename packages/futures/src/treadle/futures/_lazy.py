"""The executors that live in other treadle distributions, loaded on first use."""

from __future__ import annotations

import importlib

__all__ = ["LAZY_NAMES", "lazy_attribute", "missing"]

# name -> the module that provides it. The modules are imported on first access only:
# ``import treadle.futures`` never imports multiprocessing.
_PROVIDERS = {
    "ProcessPoolExecutor": "treadle.futures.process",
    "InterpreterPoolExecutor": "treadle.futures.interpreter",
    "DistributedExecutor": "treadle.futures.distributed",
}
LAZY_NAMES = frozenset(_PROVIDERS)


def lazy_attribute(module: str, name: str) -> object:
    """Resolve *name*, an attribute of *module* loaded on first use, or raise AttributeError."""
    where = _PROVIDERS.get(name)
    if where is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    return getattr(importlib.import_module(where), name)


def missing(name: str, extra: str, dist: str) -> ImportError:
    """Return the error for *name*, whose distribution is not installed."""
    return ImportError(
        f"treadle.futures.{name} needs {dist}, which is not released yet; it will come "
        f"with the extra treadle-futures[{extra}]"
    )
