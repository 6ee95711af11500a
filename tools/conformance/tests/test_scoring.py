"""The score of treadle against the baseline."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the conformance tool needs Python 3.11+ (tomllib)"
)

from tools.conformance._config import Exclusion  # noqa: E402
from tools.conformance._scoring import ModuleRun, Outcome, score  # noqa: E402


def _run(**outcomes: str) -> ModuleRun:
    return ModuleRun(outcomes={f"test.test_x.{k}": Outcome(v) for k, v in outcomes.items()})


EXCLUDED = [
    Exclusion("test.test_x.Internal", "internal", "tests a C helper"),
    Exclusion("test.test_x.Impl", "impl-detail", "private name"),
    Exclusion("test.test_x.Old", "internal", "old only", ("3.10",)),
]


def test_counts() -> None:
    run = _run(a="pass", b="xfail", c="fail", d="unexpected-success", e="error", f="skip")
    run.outcomes["test.test_x.g"] = Outcome("hang")
    assert run.counts() == {
        "run": 7,
        "passed": 2,
        "failed": 2,
        "errors": 1,
        "skipped": 1,
        "hangs": 1,
        "crashes": 0,
    }


def test_main_and_second_score() -> None:
    base = _run(
        a="pass",
        b="pass",
        c="xfail",
        **{"Internal.t": "pass", "Impl.t1": "pass", "Impl.t2": "pass"},
        skipped="skip",
        broken="fail",
    )
    tre = _run(
        a="pass",
        b="fail",
        c="xfail",
        **{"Internal.t": "fail", "Impl.t1": "pass", "Impl.t2": "error"},
        skipped="pass",
        broken="pass",
    )
    result = score(base, tre, EXCLUDED, "3.12")
    assert result["main"] == {"passed": 2, "of": 3, "percent": 66.7}
    assert result["second"] == {"passed": 3, "of": 5, "percent": 60.0}
    assert [r["id"] for r in result["failed"]] == ["test.test_x.b"]
    assert result["failed"][0]["outcome"] == "fail"
    assert [r["id"] for r in result["failed_impl_detail"]] == ["test.test_x.Impl.t2"]
    assert result["new_passes"] == ["test.test_x.broken", "test.test_x.skipped"]
    assert result["excluded"] == {
        "internal": ["test.test_x.Internal.t"],
        "impl-detail": ["test.test_x.Impl.t1", "test.test_x.Impl.t2"],
    }


def test_a_test_that_did_not_run_with_treadle_counts_as_lost() -> None:
    result = score(_run(a="pass", b="pass"), _run(a="pass"), [], "3.13")
    assert result["main"]["percent"] == 50.0
    assert result["failed"] == [{"id": "test.test_x.b", "outcome": "not run", "message": ""}]


def test_versioned_exclusions_apply_only_to_their_versions() -> None:
    base, tre = _run(**{"Old.t": "pass"}), _run(**{"Old.t": "fail"})
    assert score(base, tre, EXCLUDED, "3.10")["main"]["of"] == 0
    assert score(base, tre, EXCLUDED, "3.11")["main"] == {"passed": 0, "of": 1, "percent": 0.0}


def test_nothing_passing_in_the_baseline_gives_no_percentage() -> None:
    result = score(_run(a="skip"), _run(a="pass"), [], "3.14")
    assert result["main"] == {"passed": 0, "of": 0, "percent": None}
    assert result["new_passes"] == ["test.test_x.a"]
