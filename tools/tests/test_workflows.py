"""The GitHub workflows, parsed as YAML, run what the project's CI and release need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def _triggers(data: dict[Any, Any]) -> Any:
    return data["on"] if "on" in data else data[True]  # YAML 1.1 reads `on` as true


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def _uses(job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]) for step in job["steps"] if "uses" in step]


def _pythons(job: dict[str, Any]) -> list[str]:
    step = next(s for s in job["steps"] if "setup-python" in s.get("uses", ""))
    return str(step["with"]["python-version"]).split()


def test_ci() -> None:
    data = _load("ci.yml")
    assert set(_triggers(data)) == {"push", "pull_request"}
    jobs = data["jobs"]
    assert set(jobs) >= {
        "lint", "types", "typetests", "test", "solo", "layout", "isolation", "examples",
        "conformance",
    }  # fmt: skip
    assert "hatch run lint:check" in _runs(jobs["lint"])
    assert "hatch run types:check" in _runs(jobs["types"])
    assert "hatch run typetests:check" in _runs(jobs["typetests"])
    assert "hatch run solo:test" in _runs(jobs["solo"])
    layout = _runs(jobs["layout"])
    assert "python tools/check_layout.py" in layout
    assert "-m pytest tools/tests" in layout
    for needed in ("packaging", "pyyaml"):  # what check_layout and these tests import
        assert needed in layout
    assert "bash tools/dev examples" in _runs(jobs["examples"])
    assert "python tools/conformance/run.py --all" in _runs(jobs["conformance"])
    isolation = _runs(jobs["isolation"])
    assert "hatch build --all -t wheel dist" in isolation
    assert "tools/check_isolation.py --wheels dist" in isolation
    assert "pip install packaging" in isolation
    assert _pythons(jobs["isolation"]) == ["3.10", "3.14"]

    test = jobs["test"]
    versions = test["strategy"]["matrix"]["python-version"]
    assert versions == ["3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"]  # strings, not floats
    assert test["runs-on"] == "ubuntu-latest"
    assert 'hatch test -py "${{ matrix.python-version }}"' in _runs(test)
    assert "-m pytest tests packages" in _runs(test)
    assert _pythons(jobs["types"]) == ["3.10", "3.14"]
    assert _pythons(jobs["solo"]) == ["3.10", "3.11", "3.12", "3.13", "3.14"]
    assert _pythons(jobs["conformance"]) == ["3.10", "3.11", "3.12", "3.13", "3.14"]

    assert data["env"]["HATCH_VERSION"] == "1.18.2"
    for name, job in jobs.items():
        uses = _uses(job)
        assert "actions/checkout@v5" in uses, name
        if "hatch " in _runs(job):
            assert 'pipx install "hatch==${HATCH_VERSION}"' in _runs(job), name


def test_release() -> None:
    data = _load("release.yml")
    tags = _triggers(data)["push"]["tags"]
    assert tags == ["treadle-*-v*", "treadle-v*"]
    build, publish = data["jobs"]["build"], data["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    assert publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"id-token": "write"}
    assert "pypa/gh-action-pypi-publish@release/v1" in _uses(publish)
    # Trusted publishing: no password, no API token, no secret anywhere.
    assert "secrets." not in (WORKFLOWS / "release.yml").read_text()
    step = next(s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", ""))
    assert set(step.get("with", {})) <= {"packages-dir"}
    runs = _runs(build)
    assert "hatch build" in runs
    assert "tools/check_isolation.py" in runs
    assert "pip install packaging" in runs
    assert "actions/upload-artifact@v4" in _uses(build)
    assert "actions/download-artifact@v4" in _uses(publish)


def _tag_step() -> dict[str, Any]:
    steps = _load("release.yml")["jobs"]["build"]["steps"]
    step = next(s for s in steps if s.get("id") == "tag")
    assert step["shell"] == "python"
    assert isinstance(step, dict)
    return step


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("treadle-queue-v0.2.0", ("queue", "treadle-queue", "0.2.0")),
        ("treadle-thread-core-v0.1.0", ("thread-core", "treadle-thread-core", "0.1.0")),
        ("treadle-v1.0.0rc1", ("treadle", "treadle", "1.0.0rc1")),
        ("treadle-queue-0.2.0", None),
        ("queue-v0.2.0", None),
    ],
)
def test_release_tag_step(tmp_path: Path, tag: str, expected: tuple[str, str, str] | None) -> None:
    """The tag step's Python, run as the workflow runs it, maps tags as documented."""
    if expected is not None:
        folder, dist, version = expected
        pyproject = tmp_path / "packages" / folder / "pyproject.toml"
        pyproject.parent.mkdir(parents=True)
        pyproject.write_text(f'[project]\nname = "{dist}"\nversion = "{version}"\n')
    output = tmp_path / "github-output"
    output.touch()
    proc = subprocess.run(
        [sys.executable, "-c", _tag_step()["run"]],
        cwd=tmp_path,
        env={**os.environ, "TAG": tag, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    if expected is None:
        assert proc.returncode != 0
        assert "is not treadle-<name>-v<version>" in proc.stderr
        assert output.read_text() == ""
    else:
        assert proc.returncode == 0, proc.stderr
        assert output.read_text().splitlines() == [
            f"folder={folder}",
            f"dist={dist}",
            f"version={version}",
        ]


def test_release_tag_step_refuses_a_version_the_tree_does_not_have(tmp_path: Path) -> None:
    pyproject = tmp_path / "packages" / "queue" / "pyproject.toml"
    pyproject.parent.mkdir(parents=True)
    pyproject.write_text('[project]\nname = "treadle-queue"\nversion = "0.1.0"\n')
    output = tmp_path / "github-output"
    proc = subprocess.run(
        [sys.executable, "-c", _tag_step()["run"]],
        cwd=tmp_path,
        env={**os.environ, "TAG": "treadle-queue-v0.2.0", "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert "says version '0.1.0', not '0.2.0'" in proc.stderr
