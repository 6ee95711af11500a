"""targets.toml and exclusions files: what is accepted, what is rejected and why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the conformance tool needs Python 3.11+ (tomllib)"
)

from tools.conformance._config import (  # noqa: E402
    DEFAULT_RESOURCES,
    SUPPORTED_VERSIONS,
    ConfigError,
    Exclusion,
    load_all_exclusions,
    load_exclusions,
    load_targets,
    parse_exclusions,
    parse_target,
)

HERE = Path(__file__).resolve().parents[1]


def test_the_registry_parses_and_has_thread_core_as_briefed() -> None:
    targets = load_targets(HERE / "targets.toml")
    core = targets["thread-core"]
    assert core.substitute == {"_thread": "treadle.thread_core"}
    assert core.preload == ("threading",)
    assert core.tests == ("test_thread",)
    assert core.src == ("packages/thread-core/src",)
    assert core.python == SUPPORTED_VERSIONS
    assert core.resources == DEFAULT_RESOURCES
    assert targets["contextvars"].substitute == {"contextvars": "treadle.contextvars"}
    assert targets["contextvars"].tests == ("test_context",)
    for name in ("threading", "queue", "sched", "futures", "subprocess"):
        assert name in targets


def test_the_exclusion_files_all_parse() -> None:
    every = load_all_exclusions(HERE / "exclusions")
    assert "test_context" in every
    assert any(e.id == "test.test_context.HamtTest" for e in every["test_context"])


def test_a_minimal_target_gets_the_defaults() -> None:
    target = parse_target(
        "x", {"substitute": {"sched": "treadle.sched"}, "tests": ["test_sched"], "src": ["s"]}, "f"
    )
    assert target.preload == ()
    assert target.python == SUPPORTED_VERSIONS
    assert target.test_timeout == 60.0


@pytest.mark.parametrize(
    ("table", "pattern"),
    [
        ({"tests": ["test_x"], "src": ["s"]}, "missing 'substitute'"),
        ({"substitute": {"a": "b"}, "src": ["s"]}, "missing 'tests'"),
        ({"substitute": {"a": "b"}, "tests": ["test_x"]}, "missing 'src'"),
        ({"substitute": {}, "tests": ["t"], "src": ["s"]}, "non-empty table"),
        ({"substitute": {"a": "a.b"}, "tests": ["t"], "src": ["s"]}, "cannot stand for"),
        ({"substitute": {"a": "b c"}, "tests": ["t"], "src": ["s"]}, "not two module names"),
        ({"substitute": {"a": "b"}, "tests": [], "src": ["s"]}, "at least one"),
        ({"substitute": {"a": "b"}, "tests": ["test.x"], "src": ["s"]}, "not a test module"),
        ({"substitute": {"a": "b"}, "tests": ["t"], "src": "s"}, "list of non-empty"),
        ({"substitute": {"a": "b"}, "tests": ["t"], "src": ["s"], "python": ["2.7"]}, "2.7"),
        ({"substitute": {"a": "b"}, "tests": ["t"], "src": ["s"], "test-timeout": 0}, "positive"),
        ({"substitute": {"a": "b"}, "tests": ["t"], "src": ["s"], "colour": 1}, "unknown key"),
    ],
)
def test_a_bad_target_is_rejected_with_the_reason(table: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_target("bad", table, "targets.toml")


def test_missing_reports_absent_src_and_module(tmp_path: Path) -> None:
    target = parse_target(
        "x",
        {"substitute": {"sched": "treadle.sched"}, "tests": ["test_sched"], "src": ["src"]},
        "f",
    )
    assert target.missing(tmp_path) == [str(tmp_path / "src"), "treadle.sched"]
    (tmp_path / "src" / "treadle" / "sched").mkdir(parents=True)
    assert target.missing(tmp_path) == ["treadle.sched"]
    (tmp_path / "src" / "treadle" / "sched" / "__init__.py").write_text("")
    assert target.missing(tmp_path) == []


def test_an_exclusion_without_a_reason_is_rejected() -> None:
    with pytest.raises(ConfigError, match="needs a reason"):
        parse_exclusions({"exclude": [{"id": "test.test_x.A", "kind": "internal"}]}, "f")
    with pytest.raises(ConfigError, match="needs a reason"):
        parse_exclusions(
            {"exclude": [{"id": "test.test_x.A", "kind": "internal", "reason": "  "}]}, "f"
        )


@pytest.mark.parametrize(
    ("entry", "pattern"),
    [
        ({"kind": "internal", "reason": "r"}, "id must be"),
        ({"id": "a", "kind": "other", "reason": "r"}, "kind must be one of"),
        ({"id": "a", "reason": "r"}, "kind must be one of"),
        ({"id": "a", "kind": "internal", "reason": "r", "versions": ["3.9"]}, "3.9"),
        ({"id": "a", "kind": "internal", "reason": "r", "versions": []}, "versions"),
        ({"id": "a", "kind": "internal", "reason": "r", "why": "x"}, "unknown key"),
    ],
)
def test_a_bad_exclusion_is_rejected(entry: dict[str, object], pattern: str) -> None:
    with pytest.raises(ConfigError, match=pattern):
        parse_exclusions({"exclude": [entry]}, "f")


def test_exclusions_match_ids_and_prefixes_on_their_versions() -> None:
    [entry] = parse_exclusions(
        {
            "exclude": [
                {
                    "id": "test.test_context.HamtTest",
                    "versions": ["3.10", "3.11"],
                    "kind": "internal",
                    "reason": "C HAMT",
                }
            ]
        },
        "f",
    )
    assert entry == Exclusion("test.test_context.HamtTest", "internal", "C HAMT", ("3.10", "3.11"))
    assert entry.matches("test.test_context.HamtTest", "3.10")
    assert entry.matches("test.test_context.HamtTest.test_hamt_basics", "3.11")
    assert not entry.matches("test.test_context.HamtTestX.test_a", "3.10")
    assert not entry.matches("test.test_context.HamtTest.test_hamt_basics", "3.12")


def test_exclusion_files_are_found_by_test_module(tmp_path: Path) -> None:
    assert load_exclusions(tmp_path, "test_x") == []
    (tmp_path / "test_x.toml").write_text(
        '[[exclude]]\nid = "test.test_x.A"\nkind = "impl-detail"\nreason = "private name"\n'
    )
    assert [e.kind for e in load_exclusions(tmp_path, "test_x")] == ["impl-detail"]
    (tmp_path / "test_y.toml").write_text('[[exclude]]\nid = "test.test_y"\nkind = "internal"\n')
    with pytest.raises(ConfigError, match=r"test_y\.toml.*needs a reason"):
        load_all_exclusions(tmp_path)
    (tmp_path / "test_y.toml").write_text("[[exclude]\n")
    with pytest.raises(ConfigError, match=r"test_y\.toml"):
        load_all_exclusions(tmp_path)
