"""Runs one CPython test module inside a conformance venv and streams the results as JSON lines.

The conformance tool copies this file into the venv's site-packages as
``_treadle_conformance_runner.py`` and starts it as
``python -X faulthandler -c "import _treadle_conformance_runner as r; r.main()" ARGS``.
It must run on every Python the tool drives (3.10 and later), with the standard library only.

Every line of the results file is one JSON object with an ``event`` key:

``proof``          whether the substitution is what the tool expects (before any test runs)
``loaded``         the number of tests to run (``count``), and the ``select`` entries that
                   matched no test of the module (``unmatched``)
``start``          a test is starting (``id``)
``result``         a test finished (``id``, ``outcome``, ``message``, ``details``, ``duration``)
``module-skip``    the test module skipped itself while importing (``message``)
``import-error``   the test module could not be imported (``message``)
``fallback-error`` a fallback module (the stdlib's source of a submodule treadle does not
                   provide yet) failed to import on top of treadle's package (``message``);
                   no test runs: the test module may have swallowed the ImportError
``done``           every test has run; what follows is interpreter shutdown

Outcomes: ``pass``, ``fail``, ``error``, ``skip``, ``xfail`` (expected failure),
``unexpected-success``.
"""

from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
import os
import signal
import sys
import time
import traceback
import unittest
from collections.abc import Sequence

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import ModuleType, TracebackType
    from typing import Any, TextIO

    _ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
    _OptExcInfo = _ExcInfo | tuple[None, None, None]

EXIT_REFUSED = 2
EXIT_IMPORT_ERROR = 3
_MP_START_METHODS = {
    "test_multiprocessing_spawn": "spawn",
    "test_multiprocessing_fork": "fork",
    "test_multiprocessing_forkserver": "forkserver",
}


class Writer:
    """Appends JSON lines to the results file, only from the process that created it."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pid = os.getpid()

    def write(self, event: str, **fields: Any) -> None:
        if os.getpid() != self.pid:  # a forked child running unittest code: not ours
            return
        fields["event"] = event
        self.stream.write(json.dumps(fields) + "\n")
        self.stream.flush()


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _exc_message(err: _OptExcInfo) -> str:
    exc_type, exc, _ = err
    if exc_type is None:
        return ""
    lines = traceback.format_exception_only(exc_type, exc)
    return _short("".join(lines).strip().splitlines()[-1] if lines else exc_type.__name__, 300)


class JsonResult(unittest.TestResult):
    """A TestResult that writes one ``result`` line per finished test."""

    def __init__(self, writer: Writer) -> None:
        super().__init__()
        self.writer = writer
        self._current: str | None = None
        self._started = 0.0
        self._outcome: tuple[str, str, str] | None = None
        self._sub_failure: tuple[str, str, str] | None = None

    def _details(self, err: _OptExcInfo, test: unittest.TestCase) -> str:
        if err[0] is None:
            return ""
        return _short("".join(traceback.format_exception(err[0], err[1], err[2])), 4000)

    def _set(self, test: unittest.TestCase, outcome: str, message: str, details: str) -> None:
        tid = test.id()
        if tid != self._current:
            # Class or module fixtures (setUpClass, tearDownModule, ...) report through an
            # _ErrorHolder that is never started: write it out on its own.
            self.writer.write(
                "result", id=tid, outcome=outcome, message=message, details=details, duration=0
            )
            return
        if self._outcome is None or self._outcome[0] in ("pass", "skip"):
            self._outcome = (outcome, message, details)

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._current = test.id()
        self._started = time.monotonic()
        self._outcome = None
        self._sub_failure = None
        self.writer.write("start", id=self._current)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if test.id() != self._current:
            # 3.12.1 skips a skipped test before startTest and still calls stopTest: its
            # skip was written on its own.
            return
        outcome = self._outcome
        if self._sub_failure is not None and (outcome is None or outcome[0] in ("pass", "skip")):
            outcome = self._sub_failure
        if outcome is None:  # only skipped subtests, or a runner oddity: count as passed
            outcome = ("pass", "", "")
        self.writer.write(
            "result",
            id=test.id(),
            outcome=outcome[0],
            message=outcome[1],
            details=outcome[2],
            duration=round(time.monotonic() - self._started, 3),
        )
        self._current = None

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self._set(test, "pass", "", "")

    def addFailure(self, test: unittest.TestCase, err: _OptExcInfo) -> None:
        super().addFailure(test, err)
        self._set(test, "fail", _exc_message(err), self._details(err, test))

    def addError(self, test: unittest.TestCase, err: _OptExcInfo) -> None:
        super().addError(test, err)
        self._set(test, "error", _exc_message(err), self._details(err, test))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._set(test, "skip", _short(str(reason), 300), "")

    def addExpectedFailure(self, test: unittest.TestCase, err: _OptExcInfo) -> None:
        super().addExpectedFailure(test, err)
        self._set(test, "xfail", _exc_message(err), "")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        self._set(test, "unexpected-success", "unexpected success", "")

    def addSubTest(
        self,
        test: unittest.TestCase,
        subtest: unittest.TestCase,
        err: _OptExcInfo | None,
    ) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None and err[0] is not None and self._sub_failure is None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            message = f"{subtest.id()[len(test.id()) :].strip()}: {_exc_message(err)}"
            self._sub_failure = (kind, _short(message, 300), self._details(err, test))


def _iter_tests(suite: unittest.TestSuite) -> Iterable[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _iter_tests(item)
        else:
            yield item


def filter_suite(suite: unittest.TestSuite, skip: set[str]) -> unittest.TestSuite:
    """A copy of *suite* (same nesting) without the tests whose ids are in *skip*."""
    kept: list[unittest.TestSuite | unittest.TestCase] = []
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            sub = filter_suite(item, skip)
            if sub.countTestCases():
                kept.append(sub)
        elif item.id() not in skip:
            kept.append(item)
    try:
        return type(suite)(kept)
    except TypeError:
        return unittest.TestSuite(kept)


def _components(text: str) -> list[str]:
    return text.split(".")


def select_matches(test_id: str, entry: str) -> bool:
    """Whether the ``select`` *entry* covers *test_id* (a leading ``!`` is ignored here).

    An entry is a run of whole dotted components of the id: a full id, a prefix of ids
    (``test.test_x.Class``) or a part of one (``WithProcessesTestProcess``, a class name that
    the module layout of each Python puts at a different depth; ``test_x`` for a whole test
    module). A component may hold ``*`` wildcards (``ProcessPool*``: every class whose name
    starts so).
    """
    ids, parts = _components(test_id), _components(entry.lstrip("!"))
    width = len(parts)
    return any(
        all(
            fnmatch.fnmatchcase(got, want)
            for got, want in zip(ids[i : i + width], parts, strict=True)
        )
        for i in range(len(ids) - width + 1)
    )


def selected(test_id: str, select: Sequence[str]) -> bool:
    """Whether *select* keeps *test_id*: an entry without ``!`` covers it (or there is none
    such) and no ``!`` entry does. Loader errors (``unittest.*`` ids) are always kept."""
    if test_id.startswith("unittest."):
        return True
    wanted = [e for e in select if not e.startswith("!")]
    if wanted and not any(select_matches(test_id, e) for e in wanted):
        return False
    return not any(select_matches(test_id, e) for e in select if e.startswith("!"))


def select_suite(
    suite: unittest.TestSuite, select: list[str]
) -> tuple[unittest.TestSuite, list[str]]:
    """*suite* less the tests *select* does not keep, and the entries that covered no test."""
    used: set[str] = set()
    drop: set[str] = set()
    for test in _iter_tests(suite):
        test_id = test.id()
        if test_id.startswith("unittest."):  # a loader error (_FailedTest): always kept
            continue
        used.update(entry for entry in select if select_matches(test_id, entry))
        if not selected(test_id, select):
            drop.add(test_id)
    return filter_suite(suite, drop), [entry for entry in select if entry not in used]


def _test_modules(name: str) -> list[ModuleType]:
    prefixes = (f"test.{name}", "test._test_multiprocessing")
    return [
        module
        for key, module in list(sys.modules.items())
        if module is not None
        and any(key == p or key.startswith(p + ".") for p in prefixes)
        and (key != "test._test_multiprocessing" or name in _MP_START_METHODS)
    ]


def check_substitution(expected: dict[str, str], test_name: str) -> dict[str, Any]:
    """Whether this process tests what the tool expects: treadle (*expected*) or the stdlib.

    *expected* maps stdlib names to treadle names; ``{}`` is not allowed here: the baseline
    check is :func:`check_baseline`.
    """
    problems: list[str] = []
    referencing: list[str] = []
    # Never import the hook here: that would substitute now, too late, and hide the fault.
    hook: Any = sys.modules.get("_treadle_conformance_hook")
    if hook is None:
        return {"ok": False, "problems": ["the conformance hook did not run in the test process"]}
    if hook.ERROR:
        problems.append(f"the hook failed in the test process: {hook.ERROR}")
    if hook.SPEC is None:
        problems.append("the hook found no substitution spec in the test process")
    real_modules: dict[str, Any] = dict(hook.REAL)
    fallback: dict[str, str] = dict(getattr(hook, "FALLBACK", {}))
    for name in sorted(fallback):
        # A fallback module must be built on treadle's package: no stdlib sibling in it.
        for gname, value in list(vars(sys.modules.get(name, sys)).items()):
            vname = getattr(value, "__name__", None)
            if type(value) is not type(sys) or not isinstance(vname, str) or vname in fallback:
                continue
            if any(vname == std or vname.startswith(std + ".") for std in expected):
                problems.append(f"fallback {name}.{gname} is the stdlib {vname}")
    for std, tre in expected.items():
        treadle_module = sys.modules.get(tre)
        if treadle_module is None:
            problems.append(f"{tre} is not imported")
            continue
        if sys.modules.get(std) is not treadle_module:
            found = getattr(sys.modules.get(std), "__name__", None)
            problems.append(f"sys.modules[{std!r}] is {found!r}, not {tre}")
        for module in _test_modules(test_name):
            for gname, value in list(vars(module).items()):
                if value is treadle_module:
                    referencing.append(f"{module.__name__}.{gname}")
                elif (std in real_modules and value is real_modules[std]) or (
                    type(value) is type(sys) and getattr(value, "__name__", None) == std
                ):
                    problems.append(f"{module.__name__}.{gname} is the stdlib {std}, not {tre}")
    return {
        "ok": not problems,
        "problems": problems,
        "referencing": sorted(set(referencing)),
        "fallback_loaded": sorted(fallback),
        "fallback_context": sorted(set(getattr(hook, "FALLBACK_CONTEXT", []))),
    }


def check_baseline(expected: dict[str, str], test_name: str) -> dict[str, Any]:
    """Whether this process tests the stdlib: no treadle module stands for a stdlib one."""
    problems: list[str] = []
    hook = sys.modules.get("_treadle_conformance_hook")
    if hook is not None and getattr(hook, "SPEC", None) is not None:
        problems.append("a substitution spec is in force in the baseline run")
    for std, tre in expected.items():
        module = sys.modules.get(std)
        if module is not None and getattr(module, "__name__", std) != std:
            problems.append(f"sys.modules[{std!r}] is {module.__name__}, not the stdlib")
        for tmod in _test_modules(test_name):
            for gname, value in list(vars(tmod).items()):
                if type(value) is type(sys) and getattr(value, "__name__", "").startswith(
                    tre.split(".")[0] + "."
                ):
                    problems.append(f"{tmod.__name__}.{gname} is {value.__name__}")
    return {"ok": not problems, "problems": problems, "referencing": []}


def _import_test_module(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"test.{name}")
    except ModuleNotFoundError as exc:
        method = _MP_START_METHODS.get(name)
        if exc.name != f"test.{name}" or method is None:
            raise
    # 3.11.7 and 3.12.1 were installed without test_multiprocessing_<method>/; the suites
    # live in test/_test_multiprocessing.py: build the module the way those packages do.
    import types

    _test_multiprocessing: Any = importlib.import_module("test._test_multiprocessing")

    module = types.ModuleType(f"test.{name}")
    module.__file__ = _test_multiprocessing.__file__
    sys.modules[module.__name__] = module
    _test_multiprocessing.install_tests_in_module_dict(vars(module), method)
    return module


def _first_failed_import(suite: unittest.TestSuite | None) -> str:
    """The traceback of the first module a test package failed to import, if any."""
    for test in _iter_tests(suite) if suite is not None else ():
        exc = getattr(test, "_exception", None)
        if test.id().startswith("unittest.") and isinstance(exc, BaseException):
            return _short(str(exc), 4000)
    return ""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="_treadle_conformance_runner")
    parser.add_argument("--test", required=True, help="test module, e.g. test_thread")
    parser.add_argument("--results", required=True, help="JSON-lines results file (appended)")
    parser.add_argument("--skip-file", help="file with test ids to leave out, one a line")
    parser.add_argument("--mode", choices=("baseline", "treadle"), required=True)
    parser.add_argument("--expect", default="{}", help="JSON {stdlib name: treadle name}")
    parser.add_argument("--resources", default="[]", help="JSON list for use_resources")
    parser.add_argument("--select", default="[]", help="JSON list: run only what these cover")
    parser.add_argument(
        "--test-path", action="append", default=[], help="extra folder of the test package"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run one test module; the exit status is 0 when the module ran (whatever its results)."""
    # A process started in the background by a non-interactive shell inherits SIGINT
    # ignored, and Python then installs no KeyboardInterrupt handler: tests of Ctrl-C and
    # interrupt_main need it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    expected: dict[str, str] = json.loads(args.expect)
    skip: set[str] = set()
    if args.skip_file:
        with open(args.skip_file, encoding="utf-8") as stream:
            skip = {line.strip() for line in stream if line.strip()}

    with open(args.results, "a", encoding="utf-8") as stream:
        writer = Writer(stream)
        test_package: Any = importlib.import_module("test")
        support: Any = importlib.import_module("test.support")

        test_package.__path__.extend(args.test_path)  # the tool's own tests use a fake test module

        support.verbose = False
        support.failfast = False
        support.use_resources = list(json.loads(args.resources))
        if hasattr(support, "record_original_stdout"):
            support.record_original_stdout(sys.stdout)

        module: ModuleType | None = None
        suite: unittest.TestSuite | None = None
        failure: tuple[str, str, str] | None = None
        try:
            module = _import_test_module(args.test)
            # Loading imports a test package's modules (3.13+: test_multiprocessing_spawn/
            # test_processes.py and _test_multiprocessing): before the proof, so it sees them.
            suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        except unittest.SkipTest as exc:
            failure = ("module-skip", _short(str(exc), 300), "")
        except BaseException as exc:
            failure = (
                "import-error",
                _short(f"{type(exc).__name__}: {exc}", 300),
                _short(traceback.format_exc(), 4000),
            )

        # The proof comes before any test runs, and also when the import failed.
        if args.mode == "treadle":
            proof = check_substitution(expected, args.test)
        else:
            proof = check_baseline(expected, args.test)
        proof["pid"] = os.getpid()
        writer.write("proof", **proof)
        if not proof["ok"]:
            sys.stderr.write(
                "substitution did not take effect: " + "; ".join(proof["problems"]) + "\n"
            )
            return EXIT_REFUSED
        hook: Any = sys.modules.get("_treadle_conformance_hook")
        fallback_errors: dict[str, str] = dict(getattr(hook, "FALLBACK_ERRORS", None) or {})
        if args.mode == "treadle" and fallback_errors:
            message = "; ".join(fallback_errors[name] for name in sorted(fallback_errors))
            details = failure[2] if failure is not None else _first_failed_import(suite)
            writer.write("fallback-error", message=_short(message, 600), details=details)
            return EXIT_IMPORT_ERROR
        if failure is not None or suite is None:
            kind, message, details = failure or ("import-error", "no module", "")
            writer.write(kind, message=message, details=details)
            if kind == "module-skip":
                writer.write("done")
                return 0
            return EXIT_IMPORT_ERROR

        select: list[str] = list(json.loads(args.select))
        unmatched: list[str] = []
        if select:
            suite, unmatched = select_suite(suite, select)
        if skip:
            suite = filter_suite(suite, skip)
        writer.write("loaded", count=suite.countTestCases(), unmatched=unmatched)
        result = JsonResult(writer)
        suite.run(result)
        if hasattr(support, "reap_children"):
            support.reap_children()
        writer.write("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
