"""Finding the interpreters 3.10-3.14 and the CPython test suite installed with each."""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tools import pythons
from tools.conformance._config import SUPPORTED_VERSIONS

_PROBE = r"""
import json, os, sys, sysconfig
import test
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "full_version": sys.version.split()[0],
    "executable": sys.executable,
    "in_venv": sys.prefix != sys.base_prefix,
    "base_prefix": sys.base_prefix,
    "test_dir": os.path.dirname(test.__file__),
}))
"""


@dataclass(frozen=True)
class Interpreter:
    """A CPython found on this machine that has its test suite installed."""

    version: str
    full_version: str
    executable: str
    test_dir: str

    def has_test(self, module: str, extra: list[str] | tuple[str, ...] = ()) -> bool:
        """Whether the test package holds *module* (or can build it: multiprocessing)."""
        folder = Path(self.test_dir)
        for where in (folder, *map(Path, extra)):
            if (where / f"{module}.py").is_file() or (where / module / "__init__.py").is_file():
                return True
        if module.startswith("test_multiprocessing_") and module != (
            "test_multiprocessing_main_handling"
        ):
            return (folder / "_test_multiprocessing.py").is_file()
        return False


def candidates(version: str) -> list[Path]:
    """Where python<version> may be, best first: tools/pythons.py's places, then
    debian-python's prefix (``../shared/tools/debian-python 3.14 --tests`` installs
    CPython's own test suite there, which Debian's 3.14 from tools/pythons.py lacks)."""
    found = pythons.candidates(version)
    debian_homes = [
        os.environ.get("DEBIAN_PYTHON_HOME", ""),
        str(Path.home() / ".cache" / "debian-python"),
        "/root/.cache/debian-python",
    ]
    for home in dict.fromkeys(h for h in debian_homes if h):
        found.append(Path(home, version, "bin", f"python{version}"))
    return list(dict.fromkeys(found))


def probe(path: Path, version: str) -> Interpreter | None:
    """The interpreter at *path* if it is CPython *version* with its test suite."""
    if not os.access(path, os.X_OK):
        return None
    try:
        proc = subprocess.run(
            [str(path), "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    try:
        info = json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    if info["version"] != version:
        return None
    executable = info["executable"]
    if info["in_venv"]:  # create our venvs from the base interpreter, not from a venv
        base = Path(info["base_prefix"], "bin", f"python{version}")
        if not base.is_file():
            return None
        executable = str(base)
    # Some distributors ship a stub `test` package (regrtest and test.support only).
    if not Path(info["test_dir"], "test_threading.py").is_file():
        return None
    return Interpreter(version, info["full_version"], executable, info["test_dir"])


def find(version: str) -> Interpreter | None:
    """The first usable interpreter for *version*, or None."""
    for path in candidates(version):
        found = probe(path, version)
        if found is not None:
            return found
    return None


def find_all(versions: tuple[str, ...] = SUPPORTED_VERSIONS) -> dict[str, Interpreter | None]:
    """An interpreter (or None) for each of *versions*."""
    return {v: find(v) for v in versions}
