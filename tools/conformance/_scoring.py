"""Outcomes of one test-module run, and the score of treadle against the baseline."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tools.conformance._config import Exclusion

_FIXTURE = re.compile(r"^\w+ \((.+)\)$")
"""The id unittest gives a class or module fixture's error: ``setUpClass (test.x.Class)``."""
PASSED = frozenset({"pass", "xfail"})
"""Outcomes that count as passed (an expected failure is CPython's way of passing)."""
OUTCOMES = ("pass", "xfail", "fail", "unexpected-success", "error", "skip", "hang", "crash")


@dataclass
class Outcome:
    """How one test ended."""

    outcome: str
    message: str = ""
    details: str = ""
    duration: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """Compact form: the details only when the test did not pass or skip."""
        data: dict[str, Any] = {"outcome": self.outcome, "duration": self.duration}
        if self.message:
            data["message"] = self.message
        if self.details and self.outcome not in PASSED | {"skip"}:
            data["details"] = self.details
        return data


@dataclass
class ModuleRun:
    """Everything one run (baseline or treadle) of one test module produced."""

    status: str = "ok"
    """"ok", "import-error", "fallback-error" (a fallback module failed on top of treadle's
    package), "module-skip", "incomplete" (a hang or crash outside any test)."""
    message: str = ""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    hangs: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    restarts: int = 0
    seconds: float = 0.0
    proof: dict[str, Any] = field(default_factory=dict)
    processes: dict[str, Any] = field(default_factory=dict)
    unmatched: list[str] | None = None
    """The ``select`` entries that covered no test of the module (None: not loaded)."""

    def counts(self) -> dict[str, int]:
        """run / passed / failed / errors / skipped / hangs / crashes."""
        tally = Counter(o.outcome for o in self.outcomes.values())
        return {
            "run": len(self.outcomes),
            "passed": tally["pass"] + tally["xfail"],
            "failed": tally["fail"] + tally["unexpected-success"],
            "errors": tally["error"],
            "skipped": tally["skip"],
            "hangs": tally["hang"],
            "crashes": tally["crash"],
        }

    def passed(self) -> set[str]:
        """Ids of the tests that passed."""
        return {tid for tid, o in self.outcomes.items() if o.outcome in PASSED}

    def restricted(self, select: tuple[str, ...], source: str) -> ModuleRun:
        """This run as if only the tests *select* keeps had run (see ``selected``).

        *source* says where the full run came from (kept in the notes). A class or module
        fixture's result (``setUpClass (test.x.Class)``) goes with the id in parentheses.
        """
        from tools.conformance._runner import select_matches, selected

        def covered(test_id: str) -> bool:
            inner = _FIXTURE.match(test_id)
            return selected(inner.group(1) if inner else test_id, select)

        outcomes = {tid: o for tid, o in self.outcomes.items() if covered(tid)}
        return ModuleRun(
            status=self.status,
            message=self.message,
            outcomes=outcomes,
            hangs=[t for t in self.hangs if t.startswith("<") or covered(t)],
            crashes=[t for t in self.crashes if t.startswith("<") or covered(t)],
            notes=[*self.notes, f"derived from {source}: only the tests select keeps"],
            restarts=self.restarts,
            seconds=0.0,
            proof=self.proof,
            processes=self.processes,
            unmatched=[e for e in select if not any(select_matches(t, e) for t in self.outcomes)],
        )

    def as_json(self) -> dict[str, Any]:
        """The run for the results file."""
        return {
            "status": self.status,
            "message": self.message,
            "counts": self.counts(),
            "seconds": round(self.seconds, 2),
            "restarts": self.restarts,
            "hangs": self.hangs,
            "crashes": self.crashes,
            "notes": self.notes,
            "proof": self.proof,
            "processes": self.processes,
            "select_unmatched": self.unmatched,
            "outcomes": {tid: o.as_json() for tid, o in sorted(self.outcomes.items())},
        }


def exclusion_kind(exclusions: list[Exclusion], test_id: str, version: str) -> str | None:
    """The kind of the exclusion covering *test_id* on *version* ("internal" first), or None."""
    kinds = {e.kind for e in exclusions if e.matches(test_id, version)}
    if "internal" in kinds:
        return "internal"
    if "impl-detail" in kinds:
        return "impl-detail"
    return None


def _percent(numerator: int, denominator: int) -> float | None:
    if not denominator:
        return None
    return round(100.0 * numerator / denominator, 1)


def score(
    baseline: ModuleRun, treadle: ModuleRun, exclusions: list[Exclusion], version: str
) -> dict[str, Any]:
    """Score treadle against the baseline of the same interpreter.

    Main score: tests that passed in the baseline and with treadle, over tests that passed in
    the baseline, leaving out every exclusion. Second score: the same with the
    "impl-detail" exclusions counted. "internal" exclusions are never counted. Tests that
    pass with treadle but did not in the baseline are listed, not counted.
    """
    kinds = {
        tid: exclusion_kind(exclusions, tid, version)
        for tid in set(baseline.outcomes) | set(treadle.outcomes)
    }
    base_passed = baseline.passed()
    treadle_passed = treadle.passed()
    main = {t for t in base_passed if kinds[t] is None}
    second = {t for t in base_passed if kinds[t] != "internal"}

    def lost(ids: set[str]) -> list[dict[str, Any]]:
        rows = []
        for tid in sorted(ids - treadle_passed):
            got = treadle.outcomes.get(tid)
            rows.append(
                {
                    "id": tid,
                    "outcome": got.outcome if got else "not run",
                    "message": got.message if got else "",
                }
            )
        return rows

    return {
        "main": {
            "passed": len(main & treadle_passed),
            "of": len(main),
            "percent": _percent(len(main & treadle_passed), len(main)),
        },
        "second": {
            "passed": len(second & treadle_passed),
            "of": len(second),
            "percent": _percent(len(second & treadle_passed), len(second)),
        },
        "failed": lost(main),
        "failed_impl_detail": lost(second - main),
        "new_passes": sorted(t for t in treadle_passed - base_passed if kinds[t] != "internal"),
        "excluded": {
            kind: sorted(t for t, k in kinds.items() if k == kind)
            for kind in ("internal", "impl-detail")
        },
    }
