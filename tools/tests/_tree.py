"""Build small, well-formed treadle monorepos in a temporary folder for the tool tests."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT_PYPROJECT = """\
[tool.hatch.envs.solo.sources]
{sources}

[[tool.hatch.envs.solo.matrix]]
pkg = [{pkgs}]

[tool.mypy]
mypy_path = [{mypy_path}]

[tool.pytest.ini_options]
addopts = ["--import-mode=importlib", "--strict-markers", "--strict-config"]
timeout = 120
filterwarnings = ["error"]
"""

MEMBER_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.27"]
build-backend = "hatchling.build"

[project]
name = "treadle-{folder}"
version = "{version}"
description = "A test member."
readme = "README.md"
requires-python = ">=3.10"
license = "MIT"
classifiers = [
  "Programming Language :: Python :: 3.10",
  "Programming Language :: Python :: 3.11",
  "Programming Language :: Python :: 3.12",
  "Programming Language :: Python :: 3.13",
  "Programming Language :: Python :: 3.14",
  "Typing :: Typed",
]
dependencies = [{deps}]

[tool.hatch.build.targets.wheel]
packages = ["src/treadle"]
"""

INIT = '''\
"""The {leaf} test member."""

{imports}
__all__ = ["VALUE"]

VALUE = {value}
'''

TEST = """\
import treadle.{leaf}


def test_value() -> None:
    assert treadle.{leaf}.VALUE == {value}
"""

# A graph that agrees with DESIGN.md.
DEFAULT_MEMBERS: dict[str, Sequence[str]] = {
    "thread-core": (),
    "contextvars": (),
    "threading": ("thread-core", "contextvars"),
}


def _leaf(folder: str) -> str:
    return folder.replace("-", "_")


def write(path: Path, text: str) -> Path:
    """Write ``text`` (dedented) to ``path``, creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def make_member(root: Path, folder: str, deps: Sequence[str], version: str = "0.1.0") -> Path:
    """Write ``packages/<folder>`` depending on the sibling folders ``deps``."""
    base = root / "packages" / folder
    leaf = _leaf(folder)
    pins = ", ".join(f'"treadle-{dep}>=0.1,<0.2"' for dep in deps)
    write(
        base / "pyproject.toml", MEMBER_PYPROJECT.format(folder=folder, version=version, deps=pins)
    )
    write(base / "README.md", f"# treadle-{folder}\n")
    write(base / "LICENSE", "MIT\n")
    imports = "".join(f"import treadle.{_leaf(dep)}\n" for dep in deps)
    value = len(folder)
    write(
        base / "src" / "treadle" / leaf / "__init__.py",
        INIT.format(leaf=leaf, imports=imports, value=value),
    )
    write(base / "src" / "treadle" / leaf / "py.typed", "")
    write(base / "tests" / f"test_{leaf}.py", TEST.format(leaf=leaf, value=value))
    return base


def write_root(root: Path, folders: Sequence[str]) -> None:
    """Write a root pyproject.toml whose member lists name ``folders``."""
    sources = "\n".join(
        f'treadle-{f} = {{ path = "./packages/{f}", editable = false }}' for f in folders
    )
    write(
        root / "pyproject.toml",
        ROOT_PYPROJECT.format(
            sources=sources,
            pkgs=", ".join(f'"{f}"' for f in folders),
            mypy_path=", ".join(f'"packages/{f}/src"' for f in folders),
        ),
    )


def make_tree(root: Path, members: Mapping[str, Sequence[str]] = DEFAULT_MEMBERS) -> Path:
    """A complete monorepo at ``root`` with ``members`` (folder -> sibling folders)."""
    for folder, deps in members.items():
        make_member(root, folder, deps)
    write_root(root, list(members))
    return root
