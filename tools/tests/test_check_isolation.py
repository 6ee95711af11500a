"""tools/check_isolation.py: the cheap paths (the full run builds wheels and venvs)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tools import check_isolation
from tools.check_layout import discover
from tools.tests._tree import make_tree

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the repository tools need Python 3.11+ (tomllib)"
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "repo")


def test_members_whose_python_floor_excludes_the_interpreter_are_skipped(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for pyproject in (tree / "packages").glob("*/pyproject.toml"):
        pyproject.write_text(pyproject.read_text().replace(">=3.10", ">=3.99"))
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    argv = ["--root", str(tree), "--wheels", str(wheels), sys.executable]
    assert check_isolation.main(argv) == 0
    out = capsys.readouterr().out
    version = ".".join(map(str, sys.version_info[:2]))
    for dist in ("treadle-contextvars", "treadle-thread-core", "treadle-threading"):
        assert f"skip {version:<5} {dist}: requires-python >=3.99 excludes" in out
    assert out.rstrip().endswith("check_isolation: ok")


def test_a_wheel_that_was_not_built_here_cannot_be_installed(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    argv = ["--root", str(tree), "--wheels", str(wheels), "--member", "contextvars"]
    assert check_isolation.main([*argv, sys.executable]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "treadle-contextvars: pip install --no-index treadle-contextvars (exit 1)" in out
    assert "treadle-threading" not in out
    assert out.rstrip().endswith("check_isolation: 1 failure(s)")


def test_unknown_member(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--root", str(tree), "--member", "treadle-nope", sys.executable]
    assert check_isolation.main(argv) == 1
    assert "FAIL nope: no such member" in capsys.readouterr().out


def test_interpreter_that_does_not_run(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    missing = str(tmp_path / "no-python")
    argv = ["--root", str(tree), "--wheels", str(wheels), missing]
    assert check_isolation.main(argv) == 1
    assert f"FAIL {missing}: cannot run {missing}" in capsys.readouterr().out


def test_readme_install_by_name_from_a_wheel_folder(tree: Path, tmp_path: Path) -> None:
    """README's install from a checkout, with pip itself: every wheel in one folder, then
    ``pip install --no-index --find-links DIR treadle-threading``: its siblings
    (thread-core, contextvars) come from that folder, as no index is asked."""
    wheels = tmp_path / "wheels"
    members, problems = discover(tree)
    assert problems == []
    check_isolation.build_wheels(members, wheels)
    assert len(list(wheels.glob("treadle_*.whl"))) == 3
    python = check_isolation.probe_interpreter(sys.executable)
    venv_python = check_isolation.make_venv(python, tmp_path / "venv")
    pip = [sys.executable, "-m", "pip", "--python", str(venv_python), "install", "-q"]
    check_isolation.run(
        [*pip, "--no-index", "--find-links", wheels, "treadle-threading"], "pip install"
    )
    out = check_isolation.run(
        [
            venv_python,
            "-c",
            "import importlib.metadata as md, treadle.threading, treadle.thread_core, "
            "treadle.contextvars; print(sorted(d.name for d in md.distributions() "
            "if d.name.startswith('treadle')))",
        ],
        "importing what was installed",
        cwd=tmp_path,
    )
    installed = ["treadle-contextvars", "treadle-thread-core", "treadle-threading"]
    assert out.strip() == str(installed)


def test_a_wheel_older_than_the_tree_is_reported_stale(
    tree: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A wheel of the same version built before the sources changed: the run fails and says
    so, instead of testing the old build (an installer cache hands such wheels out)."""
    wheels = tmp_path / "wheels"
    members, _ = discover(tree)
    check_isolation.build_wheels(members, wheels)
    init = tree / "packages" / "contextvars" / "src" / "treadle" / "contextvars" / "__init__.py"
    init.write_text(init.read_text() + "\nCHANGED_AFTER_THE_BUILD = True\n")
    argv = ["--root", str(tree), "--wheels", str(wheels), "--member", "contextvars"]
    assert check_isolation.main([*argv, sys.executable]) == 1
    out = capsys.readouterr().out
    assert "treadle-contextvars: import treadle.contextvars" in out
    assert "a stale wheel was installed" in out
