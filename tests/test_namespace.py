"""Every installed treadle package: one namespace, typed, with a complete ``__all__``."""

from __future__ import annotations

import importlib
import importlib.metadata
import pathlib
import pkgutil
from types import ModuleType

import pytest

import treadle

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEMBERS = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "src").is_dir())


def _installed() -> list[str]:
    found = []
    for member in MEMBERS:
        try:
            importlib.metadata.distribution(f"treadle-{member}")
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(member)
    return found


INSTALLED = _installed()

# Public names deliberately left out of __all__, as the stdlib leaves them out of its own.
NOT_IN_ALL = {
    "threading": {"activeCount", "currentThread"},  # deprecated camelCase aliases
    # logging levels the stdlib's multiprocessing also defines outside its __all__
    "multiprocessing": {"SUBDEBUG", "SUBWARNING"},
}


def _leaf(member: str) -> ModuleType:
    return importlib.import_module(f"treadle.{member.replace('-', '_')}")


def test_something_is_installed() -> None:
    assert INSTALLED, "no treadle distribution is installed in this environment"


def test_treadle_is_a_namespace_package() -> None:
    assert getattr(treadle, "__file__", None) is None
    leaves = {m.name for m in pkgutil.iter_modules(treadle.__path__)}
    for member in INSTALLED:
        assert member.replace("-", "_") in leaves
    for path in treadle.__path__:
        assert not (pathlib.Path(path) / "__init__.py").exists()


@pytest.mark.parametrize("member", INSTALLED)
def test_leaf_is_typed(member: str) -> None:
    module = _leaf(member)
    assert module.__file__ is not None
    assert (pathlib.Path(module.__file__).parent / "py.typed").is_file()


@pytest.mark.parametrize("member", INSTALLED)
def test_all_is_complete_and_public(member: str) -> None:
    module = _leaf(member)
    names = module.__all__
    assert len(names) == len(set(names)), "duplicates in __all__"
    for name in names:
        assert hasattr(module, name), f"{name} listed in __all__ but missing"
        assert not name.startswith("_"), f"private name {name} in __all__"
    public = {n for n in vars(module) if not n.startswith("_")} - {"annotations"}
    submodules = {n for n, v in vars(module).items() if isinstance(v, ModuleType)}
    missing = public - set(names) - submodules - NOT_IN_ALL.get(member, set())
    assert not missing, f"public names missing from __all__: {sorted(missing)}"


@pytest.mark.parametrize("member", INSTALLED)
def test_public_objects_show_the_public_path(member: str) -> None:
    module = _leaf(member)
    for name in module.__all__:
        obj = getattr(module, name)
        mod = getattr(obj, "__module__", None)
        if isinstance(obj, type | type(len)) and isinstance(mod, str) and mod.startswith("treadle"):
            assert "._" not in mod, f"{name}.__module__ is {mod}: show the public path"
