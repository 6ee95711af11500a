"""The conformance tool's configuration: targets.toml and exclusions/<test module>.toml."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools import pythons

SUPPORTED_VERSIONS = pythons.SUPPORTED
DEFAULT_RESOURCES = ("cpu", "decimal", "subprocess", "walltime")
"""regrtest's ``-u all`` less what needs a network, a terminal, a display or huge files."""
EXCLUSION_KINDS = ("internal", "impl-detail")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# A select entry: "!" (leave out what it covers), then dotted components with "*" wildcards.
_SELECT = re.compile(r"^!?[A-Za-z_*][A-Za-z0-9_*]*(\.[A-Za-z_*][A-Za-z0-9_*]*)*$")
_TARGET_KEYS = {
    "substitute": "{stdlib module: treadle module}",
    "preload": "stdlib modules imported for real before the substitution",
    "tests": "CPython test modules, e.g. test_thread",
    "src": "folders added to sys.path, relative to the repository root",
    "python": "versions to run on (default: all)",
    "resources": "test.support resources to enable (default: DEFAULT_RESOURCES)",
    "test-timeout": "seconds one test may run before it counts as hung",
    "all-python": "versions --all runs the target on (default: python); CI runs --all",
    "fallback": "submodules of a substituted module loaded from the stdlib's source file",
    "fallback-context": "context API names (Lock, Queue...) taken from the stdlib's context.py",
    "select": "test-id prefixes or class names (* wildcards; !: leave out): what runs",
}


class ConfigError(Exception):
    """A targets.toml or exclusions file is malformed."""


if sys.version_info >= (3, 11):
    import tomllib

    def read_toml(path: Path) -> dict[str, Any]:
        """Parse *path*; a syntax error becomes a ConfigError naming the file."""
        try:
            with path.open("rb") as stream:
                return tomllib.load(stream)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None

else:  # pragma: no cover - the tool drives 3.10 but runs on 3.11+

    def read_toml(path: Path) -> dict[str, Any]:
        """The tool itself needs Python 3.11+ (tomllib)."""
        raise ConfigError("the conformance tool needs Python 3.11 or newer (tomllib)")


@dataclass(frozen=True)
class Target:
    """One registry entry of targets.toml."""

    name: str
    substitute: dict[str, str]
    tests: tuple[str, ...]
    src: tuple[str, ...]
    preload: tuple[str, ...] = ()
    python: tuple[str, ...] = SUPPORTED_VERSIONS
    resources: tuple[str, ...] = DEFAULT_RESOURCES
    test_timeout: float = 60.0
    fallback: tuple[str, ...] = ()
    fallback_context: tuple[str, ...] = ()
    select: tuple[str, ...] = ()
    all_python: tuple[str, ...] | None = None
    """Versions ``--all`` (what CI runs) uses; None: the same as ``python``."""

    def src_paths(self, root: Path) -> list[Path]:
        """The src folders as absolute paths."""
        return [(root / s).resolve() for s in self.src]

    def missing(self, root: Path) -> list[str]:
        """What is not there yet (src folders, treadle modules); empty when built."""
        gone: list[str] = []
        folders = self.src_paths(root)
        for folder in folders:
            if not folder.is_dir():
                gone.append(str(folder))
        for module in self.substitute.values():
            rel = Path(*module.split("."))
            if not any(
                (f / rel / "__init__.py").is_file() or (f / rel).with_suffix(".py").is_file()
                for f in folders
            ):
                gone.append(module)
        return gone


def _str_list(value: Any, where: str, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{where}: {what} must be a list of non-empty strings")
    return tuple(value)


def parse_target(name: str, table: Any, where: str) -> Target:
    """Validate one ``[name]`` table of targets.toml."""
    here = f"{where} [{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{here}: must be a table")
    unknown = sorted(set(table) - set(_TARGET_KEYS))
    if unknown:
        raise ConfigError(f"{here}: unknown key(s) {unknown}; known: {sorted(_TARGET_KEYS)}")
    for key in ("substitute", "tests", "src"):
        if key not in table:
            raise ConfigError(f"{here}: missing {key!r} ({_TARGET_KEYS[key]})")
    substitute = table["substitute"]
    if not isinstance(substitute, dict) or not substitute:
        raise ConfigError(f"{here}: substitute must be a non-empty table")
    for std, tre in substitute.items():
        if not (isinstance(tre, str) and _NAME.match(std) and _NAME.match(tre)):
            raise ConfigError(f"{here}: substitute {std!r} = {tre!r} is not two module names")
        if tre == std or tre.startswith(std + "."):
            raise ConfigError(f"{here}: {tre!r} cannot stand for {std!r}")
    tests = _str_list(table["tests"], here, "tests")
    if not tests:
        raise ConfigError(f"{here}: tests must name at least one test module")
    for test in tests:
        if not _NAME.match(test) or "." in test:
            raise ConfigError(f"{here}: {test!r} is not a test module name like test_thread")
    python = _str_list(table.get("python", list(SUPPORTED_VERSIONS)), here, "python")
    bad = [v for v in python if v not in SUPPORTED_VERSIONS]
    if bad:
        raise ConfigError(f"{here}: python {bad} not among {list(SUPPORTED_VERSIONS)}")
    fallback = _str_list(table.get("fallback", []), here, "fallback")
    for module in fallback:
        if (
            not _NAME.match(module)
            or module in substitute
            or not any(module.startswith(std + ".") for std in substitute)
        ):
            raise ConfigError(
                f"{here}: fallback {module!r} is not a submodule of a substituted module "
                f"{sorted(substitute)}; a substituted module itself never falls back"
            )
    fallback_context = _str_list(table.get("fallback-context", []), here, "fallback-context")
    for attr in fallback_context:
        if not attr.isidentifier() or attr.startswith("_"):
            raise ConfigError(f"{here}: fallback-context {attr!r} is not a public method name")
    if fallback_context and not fallback:
        raise ConfigError(f"{here}: fallback-context needs the fallback modules its methods use")
    select = _str_list(table.get("select", []), here, "select")
    for entry in select:
        if not _SELECT.match(entry):
            raise ConfigError(
                f"{here}: select {entry!r} is not a test id, a prefix of ids or a class name"
            )
    all_python: tuple[str, ...] | None = None
    if "all-python" in table:
        all_python = _str_list(table["all-python"], here, "all-python")
        outside = [v for v in all_python if v not in python]
        if outside:
            raise ConfigError(f"{here}: all-python {outside} not among python {list(python)}")
    timeout = table.get("test-timeout", 60.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{here}: test-timeout must be a positive number of seconds")
    return Target(
        name=name,
        substitute=dict(substitute),
        tests=tests,
        src=_str_list(table["src"], here, "src"),
        preload=_str_list(table.get("preload", []), here, "preload"),
        python=python,
        resources=_str_list(table.get("resources", list(DEFAULT_RESOURCES)), here, "resources"),
        test_timeout=float(timeout),
        fallback=fallback,
        fallback_context=fallback_context,
        select=select,
        all_python=all_python,
    )


def load_targets(path: Path) -> dict[str, Target]:
    """Every target of *path*, in file order."""
    data = read_toml(path)
    return {name: parse_target(name, table, str(path)) for name, table in data.items()}


@dataclass(frozen=True)
class Exclusion:
    """One ``[[exclude]]`` entry: tests left out of the main score, and why."""

    id: str
    kind: str
    reason: str
    versions: tuple[str, ...] = field(default=SUPPORTED_VERSIONS)

    def matches(self, test_id: str, version: str) -> bool:
        """Whether this entry covers *test_id* (itself or a prefix of it) on *version*."""
        if version not in self.versions:
            return False
        return test_id == self.id or test_id.startswith(self.id + ".")


_EXCLUSION_KEYS = {"id", "kind", "reason", "versions"}


def parse_exclusions(data: dict[str, Any], where: str) -> list[Exclusion]:
    """Validate the contents of one exclusions file; every entry needs a reason."""
    unknown = sorted(set(data) - {"exclude"})
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key(s) {unknown}; use [[exclude]]")
    entries = data.get("exclude", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: exclude must be an array of tables ([[exclude]])")
    result: list[Exclusion] = []
    for number, entry in enumerate(entries, 1):
        here = f"{where}: entry {number}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{here}: must be a table")
        extra = sorted(set(entry) - _EXCLUSION_KEYS)
        if extra:
            raise ConfigError(f"{here}: unknown key(s) {extra}")
        test_id = entry.get("id")
        if not isinstance(test_id, str) or not test_id.strip():
            raise ConfigError(f"{here}: id must be a test id or a prefix of ids")
        here = f"{where}: entry {number} ({test_id})"
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(f"{here}: every exclusion needs a reason")
        kind = entry.get("kind")
        if kind not in EXCLUSION_KINDS:
            raise ConfigError(f"{here}: kind must be one of {list(EXCLUSION_KINDS)}, not {kind!r}")
        versions = _str_list(entry.get("versions", list(SUPPORTED_VERSIONS)), here, "versions")
        bad = [v for v in versions if v not in SUPPORTED_VERSIONS]
        if bad or not versions:
            raise ConfigError(f"{here}: versions {bad or '[]'} not among {SUPPORTED_VERSIONS}")
        result.append(Exclusion(test_id.strip(), kind, reason.strip(), versions))
    return result


def load_exclusions(folder: Path, test_module: str) -> list[Exclusion]:
    """The exclusions of *test_module* (``folder/<test_module>.toml``); none if no file."""
    path = folder / f"{test_module}.toml"
    if not path.is_file():
        return []
    return parse_exclusions(read_toml(path), str(path))


def load_all_exclusions(folder: Path) -> dict[str, list[Exclusion]]:
    """Every exclusions file of *folder*, validated, by test module."""
    if not folder.is_dir():
        return {}
    return {
        path.stem: parse_exclusions(read_toml(path), str(path))
        for path in sorted(folder.glob("*.toml"))
    }
