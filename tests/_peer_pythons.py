"""The installed CPython 3.10-3.14 that wire tests start as stdlib peers.

Found by ``tools/pythons.py`` (the repository's one place that finds interpreters); a
version that is not installed skips the test that asks for it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ("3.10", "3.11", "3.12", "3.13", "3.14")

_found: dict[str, Path | None] = {}


def _load_pythons() -> Any:
    spec = importlib.util.spec_from_file_location("_treadle_pythons", ROOT / "tools" / "pythons.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peer_python(version: str) -> Path:
    """Return the interpreter of *version*, or skip the calling test when there is none."""
    if version not in _found:
        _found[version] = _load_pythons().find(version)
    path = _found[version]
    if path is None:
        pytest.skip(f"Python {version} is not installed here (tools/pythons.py found none)")
    return path
