"""tools/pythons.py: where it looks, what it accepts, and what it prints."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from tools import pythons

RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


def _fake(path: Path, target: str = sys.executable) -> Path:
    """A python executable at *path*: a link to *target*."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pyenv root and an install folder of our own; PATH holds only an empty folder."""
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.setenv("TREADLE_PYTHONS", str(tmp_path / "installed"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    return tmp_path


def test_pyenv_first_newest_patch_first_then_ours_then_path(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    versions = isolated / "pyenv" / "versions"
    for name in ("3.12.1", "3.12.10", "3.12-dev", "3.12.0t"):
        _fake(versions / name / "bin" / "python3.12")
    on_path = _fake(isolated / "bin" / "python3.12")
    _fake(isolated / "shims" / "python3.12")
    monkeypatch.setenv("PATH", f"{isolated / 'shims'}:{isolated / 'bin'}")
    found = pythons.candidates("3.12")
    ours = [p for p in found if str(p).startswith(str(isolated))]
    assert ours == [
        versions / "3.12.10" / "bin" / "python3.12",
        versions / "3.12.1" / "bin" / "python3.12",
        isolated / "installed" / "bin" / "python3.12",
        on_path,
    ]


def test_find_checks_the_version_it_runs(isolated: Path) -> None:
    other = "3.10" if RUNNING != "3.10" else "3.11"
    # A link named python<other> to this interpreter is not python<other>.
    _fake(isolated / "installed" / "bin" / f"python{other}")
    assert not pythons.works(isolated / "installed" / "bin" / f"python{other}", other)
    link = _fake(isolated / "installed" / "bin" / f"python{RUNNING}")
    assert pythons.works(link, RUNNING)
    assert pythons.find(RUNNING) in (link, *pythons.candidates(RUNNING))


def test_all_prints_one_line_per_version(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake(isolated / "installed" / "bin" / f"python{RUNNING}")
    assert pythons.main(["all", RUNNING]) == 0
    version, path = capsys.readouterr().out.split()
    assert version == RUNNING
    assert pythons.works(Path(path), RUNNING)


def test_find_fails_without_one(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pythons, "candidates", lambda version: [isolated / "nothing"])
    assert pythons.main(["find", "3.12"]) == 1
    assert pythons.main(["newest"]) == 1


def test_unsupported_version_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        pythons.main(["all", "3.9"])
    assert "not a supported version: 3.9" in capsys.readouterr().err


def test_a_failed_install_is_not_retried_the_same_day(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []

    def fails(version: str) -> None:
        tried.append(version)

    monkeypatch.setattr(pythons, "install_with_uv", fails)
    monkeypatch.setattr(pythons, "install_from_debian", fails)
    assert pythons.install("3.12") is None
    assert tried == ["3.12", "3.12"]
    marker = isolated / "installed" / "unavailable-3.12"
    assert marker.read_text().strip() == time.strftime("%Y-%m-%d")
    assert pythons.install("3.12") is None
    assert tried == ["3.12", "3.12"]  # not tried again
    marker.write_text("2000-01-01\n")
    assert pythons.install("3.12") is None
    assert tried == ["3.12"] * 4


def test_an_unpacked_debian_library_gets_its_bytecode(isolated: Path) -> None:
    # dpkg-deb -x leaves the library without .pyc files; write_bytecode compiles it once
    # (the test data of the library is left alone), and not again once it is there.
    tag = RUNNING.replace(".", "")
    stdlib = isolated / "installed" / f"debian-{RUNNING}" / "prefix" / "usr" / "lib"
    stdlib = stdlib / f"python{RUNNING}"
    (stdlib / "test").mkdir(parents=True)
    (stdlib / "typing.py").write_text("X = 1\n")
    (stdlib / "test" / "badsyntax.py").write_text("def (:\n")
    python = Path(sys.executable)
    pythons.write_bytecode(RUNNING, python)
    typing_pyc = stdlib / "__pycache__" / f"typing.cpython-{tag}.pyc"
    assert typing_pyc.exists()
    assert not (stdlib / "test" / "__pycache__").exists()
    (stdlib / "other.py").write_text("Y = 2\n")
    pythons.write_bytecode(RUNNING, python)  # done already: nothing is compiled
    assert not (stdlib / "__pycache__" / f"other.cpython-{tag}.pyc").exists()
