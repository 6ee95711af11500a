"""The ``impl`` fixture: a test taking it runs on concurrent.futures, then on treadle.futures."""

from __future__ import annotations

from pytest_treadle import impl_fixture

impl = impl_fixture("concurrent.futures", "treadle.futures")
