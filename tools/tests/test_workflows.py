"""The GitHub workflows parse and say what the project's CI and release process need."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _load(name: str) -> dict[Any, Any]:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    assert isinstance(data, dict)
    return data


def _triggers(data: dict[Any, Any]) -> Any:
    return data["on"] if "on" in data else data[True]  # YAML 1.1 reads `on` as true


def _runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def _uses(job: dict[str, Any]) -> list[str]:
    return [str(step["uses"]) for step in job["steps"] if "uses" in step]


def test_ci() -> None:
    data = _load("ci.yml")
    assert set(_triggers(data)) == {"push", "pull_request"}
    jobs = data["jobs"]
    assert set(jobs) >= {
        "lint", "types", "test", "solo", "layout", "isolation", "examples", "conformance"
    }  # fmt: skip
    assert "hatch run lint:check" in _runs(jobs["lint"])
    assert "hatch run types:check" in _runs(jobs["types"])
    assert "hatch run solo:test" in _runs(jobs["solo"])
    assert "python tools/check_layout.py" in _runs(jobs["layout"])
    assert "hatch run examples:all" in _runs(jobs["examples"])
    assert "python tools/conformance/run.py --all" in _runs(jobs["conformance"])
    isolation = _runs(jobs["isolation"])
    assert "hatch build --all" in isolation
    assert "tools/check_isolation.py --wheels dist" in isolation
    assert "python3.10" in isolation
    assert "python3.14" in isolation

    test = jobs["test"]
    versions = test["strategy"]["matrix"]["python-version"]
    assert versions == ["3.10", "3.11", "3.12", "3.13", "3.14", "3.14t"]  # strings, not floats
    assert test["runs-on"] == "ubuntu-latest"
    assert 'hatch test -py "${{ matrix.python-version }}"' in _runs(test)
    assert "-m pytest tests packages" in _runs(test)
    types_pythons = next(s["with"]["python-version"] for s in jobs["types"]["steps"] if "with" in s)
    assert types_pythons.split() == ["3.10", "3.14"]

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
    assert "actions/upload-artifact@v4" in _uses(build)
    assert "actions/download-artifact@v4" in _uses(publish)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("treadle-queue-v0.2.0", ("queue", "0.2.0")),
        ("treadle-thread-core-v0.1.0", ("thread-core", "0.1.0")),
        ("treadle-v1.0.0rc1", (None, "1.0.0rc1")),
        ("treadle-queue-0.2.0", None),
        ("queue-v0.2.0", None),
    ],
)
def test_release_tag_pattern(tag: str, expected: tuple[str | None, str] | None) -> None:
    """The regular expression in the release job maps tags as documented."""
    text = (WORKFLOWS / "release.yml").read_text()
    found = re.search(r'r"(treadle\(\?:.*?)", tag\)', text)
    assert found is not None
    match = re.fullmatch(found.group(1), tag)
    if expected is None:
        assert match is None
    else:
        assert match is not None
        assert (match["folder"], match["version"]) == expected
