"""The in-process half of the runner: one JSON line per finished test, and suite filtering."""

from __future__ import annotations

import io
import json
import sys
import unittest
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="the conformance tool needs Python 3.11+ (tomllib)"
)

from tools.conformance._runner import JsonResult, Writer, filter_suite  # noqa: E402


def _cases() -> tuple[type[unittest.TestCase], type[unittest.TestCase]]:
    # Built in a function so that pytest does not collect them.
    class Sample(unittest.TestCase):
        def test_pass(self) -> None:
            pass

        def test_fail(self) -> None:
            assert 1 + 1 == 3

        def test_error(self) -> None:
            raise KeyError("boom")

        @unittest.skip("not here")
        def test_skip(self) -> None:
            pass

        @unittest.expectedFailure
        def test_xfail(self) -> None:
            assert 1 + 1 == 3

        @unittest.expectedFailure
        def test_xpass(self) -> None:
            pass

        def test_subtests(self) -> None:
            for i in range(3):
                with self.subTest(i=i):
                    assert i < 1

    class BrokenFixture(unittest.TestCase):
        @classmethod
        def setUpClass(cls) -> None:
            raise RuntimeError("no fixture")

        def test_never(self) -> None:
            pass

    return Sample, BrokenFixture


def _run(suite: unittest.TestSuite) -> list[dict[str, Any]]:
    stream = io.StringIO()
    suite.run(JsonResult(Writer(stream)))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_outcome_is_written_once_per_test() -> None:
    sample, broken = _cases()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        [loader.loadTestsFromTestCase(sample), loader.loadTestsFromTestCase(broken)]
    )
    events = _run(suite)
    results = {e["id"].rsplit(".", 1)[-1]: e for e in events if e["event"] == "result"}
    starts = [e["id"] for e in events if e["event"] == "start"]
    assert {k: v["outcome"] for k, v in results.items()} == {
        "test_pass": "pass",
        "test_fail": "fail",
        "test_error": "error",
        "test_skip": "skip",
        "test_xfail": "xfail",
        "test_xpass": "unexpected-success",
        "test_subtests": "fail",
        "BrokenFixture)": "error",
    }
    # The fixture error is not a started test; 3.12.1 does not start a skipped test either.
    assert {i.rsplit(".", 1)[-1] for i in starts} - {"test_skip"} == {
        "test_pass",
        "test_fail",
        "test_error",
        "test_xfail",
        "test_xpass",
        "test_subtests",
    }
    assert results["test_error"]["message"] == "KeyError: 'boom'"
    assert "Traceback" in results["test_error"]["details"]
    assert results["test_skip"]["message"] == "not here"
    assert results["test_subtests"]["message"].startswith("(i=1): AssertionError")
    assert "no fixture" in results["BrokenFixture)"]["message"]


def test_filter_suite_drops_the_listed_ids_and_empty_suites() -> None:
    sample, broken = _cases()
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(
        [loader.loadTestsFromTestCase(sample), loader.loadTestsFromTestCase(broken)]
    )
    ids = [
        t.id()
        for t in [*loader.loadTestsFromTestCase(broken), *loader.loadTestsFromTestCase(sample)]
    ]
    skip = {i for i in ids if not i.endswith("_pass")}
    kept = filter_suite(suite, skip)
    assert kept.countTestCases() == 1
    events = _run(kept)
    assert [e["outcome"] for e in events if e["event"] == "result"] == ["pass"]


def test_a_skip_reported_without_start_is_written_once() -> None:
    # What unittest does on 3.12.1 for a skipped class: addSkip, stopTest, no startTest.
    sample, _ = _cases()
    case = sample("test_pass")
    stream = io.StringIO()
    result = JsonResult(Writer(stream))
    result.addSkip(case, "Windows specific tests")
    result.stopTest(case)
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["event"], e["outcome"]) for e in events] == [("result", "skip")]
