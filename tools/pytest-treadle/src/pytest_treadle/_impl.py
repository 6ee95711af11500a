"""Run one behavioural test against the stdlib module and against treadle's.

A package's ``conftest.py`` makes the fixture::

    from pytest_treadle import impl_fixture

    impl = impl_fixture("queue", "treadle.queue")

and a test that takes ``impl`` runs twice, ids ``stdlib`` and ``treadle``, with the module
as the fixture's value. Where the stdlib of the running Python cannot pass, the test
says why with a marker, and its stdlib run becomes a strict xfail:

* ``@pytest.mark.stdlib_since((3, 13), "queue.shutdown() is new in 3.13")``: the stdlib
  lacks the behaviour before that version;
* ``@pytest.mark.stdlib_differs("...")``: the stdlib behaves otherwise on every version
  (treadle fixes something it still gets wrong).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

import pytest

__all__ = ["MARKERS", "impl_fixture"]

MARKERS = (
    "stdlib_since(version, reason): under the impl fixture, the stdlib run is a strict "
    "xfail on Pythons older than version (a tuple), for the reason given",
    "stdlib_differs(reason): under the impl fixture, the stdlib run is a strict xfail, "
    "for the reason given",
)


def _stdlib_xfail(node: pytest.Item) -> str | None:
    differs = node.get_closest_marker("stdlib_differs")
    if differs is not None:
        return str(differs.args[0])
    since = node.get_closest_marker("stdlib_since")
    if since is not None:
        version, reason = since.args
        if sys.version_info < tuple(version):
            return f"before {'.'.join(map(str, version))}: {reason}"
    return None


def impl_fixture(stdlib: str, treadle: str) -> Any:
    """Return a fixture giving *stdlib*'s module, then *treadle*'s, to each test."""

    @pytest.fixture(params=["stdlib", "treadle"])
    def impl(request: pytest.FixtureRequest) -> ModuleType:
        if request.param == "stdlib":
            reason = _stdlib_xfail(request.node)
            if reason is not None:
                request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
            return importlib.import_module(stdlib)
        return importlib.import_module(treadle)

    return impl
