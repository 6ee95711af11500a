"""Fixtures of treadle.contextvars' tests: ``impl`` runs a test on the stdlib and on treadle."""

from __future__ import annotations

from pytest_treadle import impl_fixture

impl = impl_fixture("contextvars", "treadle.contextvars")
