"""The ``engine`` fixture: each behavioural test runs on every interpreter engine this
Python has (treadle's native and process-backed ones, and on 3.14 the stdlib's
``concurrent.interpreters``)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from treadle import interpreters
from treadle.interpreters import _native, _queues


def _stdlib() -> Any:
    try:
        return importlib.import_module("concurrent.interpreters")
    except ImportError:
        return None


ENGINES: list[Any] = ["process"]
if _native.AVAILABLE:
    if _native.treadle_loads():
        ENGINES.insert(0, "native")
    else:
        ENGINES.insert(
            0,
            pytest.param(
                "native",
                marks=pytest.mark.skip(
                    reason="treadle.interpreters does not import in this runtime's "
                    "sub-interpreters (3.13: _contextvars.Token.MISSING is missing there, "
                    "which treadle.contextvars reads at import), so calls and queues cannot "
                    "cross into them"
                ),
            ),
        )
if _stdlib() is not None:
    ENGINES.append("stdlib")
    _queues.register_native_types()  # importing the stdlib's module took the queue types


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[SimpleNamespace]:
    """A namespace: ``mod`` (the module's names), ``create()``, ``name``."""
    name = request.param
    if name == "stdlib":
        mod = _stdlib()
        # Only one Queue type can ride native queues at a time: the stdlib's while its
        # tests run, treadle's again after.
        importlib.import_module("_interpqueues")._register_heap_types(
            mod.Queue,
            mod.QueueEmpty,
            mod.QueueFull,
        )
        try:
            yield SimpleNamespace(name=name, mod=mod, create=mod.create)
        finally:
            _queues.register_native_types()
        return
    yield SimpleNamespace(
        name=name, mod=interpreters, create=functools.partial(interpreters.create, backend=name)
    )
