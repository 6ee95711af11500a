"""Command line of the conformance tool (see README.md beside this file)."""

from __future__ import annotations

import argparse
import datetime
import json
import re
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tools.conformance import _execute
from tools.conformance._config import (
    SUPPORTED_VERSIONS,
    ConfigError,
    Exclusion,
    Target,
    load_all_exclusions,
    load_targets,
)
from tools.conformance._pythons import Interpreter, find_all
from tools.conformance._scoring import ModuleRun, score

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
EXIT_USAGE = 2
FAILED_SHOWN = 20
_VERSION = re.compile(r"^\d+\.\d+$")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The interface other people script: keep it stable."""
    parser = argparse.ArgumentParser(
        prog="tools/conformance/run.py",
        description="Run CPython's own tests against the stdlib and against treadle.",
    )
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="entries of targets.toml")
    parser.add_argument("--all", action="store_true", help="every target of targets.toml")
    parser.add_argument(
        "--python",
        action="extend",
        nargs="+",
        metavar="3.X",
        help="versions to run on (default: every one of 3.10-3.14 found)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every result here")
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="limit for one run of one test module (default 600)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="TESTMODULE",
        help="run only this test module of the targets (repeatable)",
    )
    parser.add_argument(
        "--select",
        action="append",
        metavar="TESTID",
        help="run only the tests this covers: a test id, a prefix of ids or a class name, "
        "with * wildcards; !X leaves out what X covers (repeatable; replaces the targets' "
        "own select)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="run N Python versions side by side (default 1: timing-sensitive tests)",
    )
    parser.add_argument(
        "--targets-file", type=Path, default=HERE / "targets.toml", help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--exclusions-dir", type=Path, default=HERE / "exclusions", help=argparse.SUPPRESS
    )
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--state-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--test-path", action="append", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.python:
        # `--python 3.12 thread-core`: nargs="+" swallows the targets that follow; give back
        # what is not a version.
        args.targets += [v for v in args.python if not _VERSION.match(v)]
        args.python = [v for v in args.python if _VERSION.match(v)]
    if not args.targets and not args.all:
        parser.error("name at least one TARGET, or --all")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    return args


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Baselines:
    """Runs shared by the targets that run the same test module on one Python (baselines;
    treadle runs too, so a target with ``select`` can be derived from one without)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[tuple[object, ...], ModuleRun] = {}
        self._locks: dict[tuple[object, ...], threading.Lock] = {}

    def get(self, key: tuple[object, ...], make: Any) -> ModuleRun:
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._runs:
                self._runs[key] = make()
            return self._runs[key]

    def put(self, key: tuple[object, ...], run: ModuleRun) -> None:
        """Keep *run* under *key* unless one is there already."""
        with self._lock:
            self._runs.setdefault(key, run)

    def peek(self, key: tuple[object, ...]) -> ModuleRun | None:
        """The run made under *key*, if it is finished; never starts one."""
        with self._lock:
            return self._runs.get(key)


def run_cell(
    *,
    target: Target,
    interpreter: Interpreter,
    args: argparse.Namespace,
    exclusions: dict[str, list[Exclusion]],
    baselines: _Baselines,
    tests: list[str],
    treadle_runs: _Baselines | None = None,
) -> dict[str, Any]:
    """Every test module of *target* on *interpreter*: the results-file content.

    With ``select``, when this invocation already ran the same test module unselected with
    the same substitution (e.g. ``--all``: [multiprocessing] before [multiprocessing-part1]),
    both runs are derived from those instead of being run again.
    """
    treadle_runs = treadle_runs if treadle_runs is not None else _Baselines()
    state = args.state_dir or args.root / ".conformance"
    venv = _execute.ensure_venv(state, interpreter)
    select = tuple(args.select) if args.select else target.select
    spec = {
        "target": target.name,
        "substitute": target.substitute,
        "preload": list(target.preload),
        "src": [str(p) for p in target.src_paths(args.root)],
        "fallback": list(target.fallback),
        "fallback_context": list(target.fallback_context),
    }
    version = interpreter.version
    report: dict[str, Any] = {
        "target": target.name,
        "python": version,
        "python_version": interpreter.full_version,
        "executable": interpreter.executable,
        "status": "ok",
        "substitute": target.substitute,
        "preload": list(target.preload),
        "fallback": list(target.fallback),
        "fallback_context": list(target.fallback_context),
        "select": list(select),
        "modules": {},
    }
    for test in tests:
        if not interpreter.has_test(test, args.test_path):
            report["modules"][test] = {"status": "not installed"}
            _say(f"{target.name} {version} {test}: not installed with this Python")
            continue
        work = state / "work" / f"{target.name}-{version}"

        def baseline_run(test: str = test, work: Path = work) -> ModuleRun:
            return _execute.run_module(
                venv,
                test,
                mode="baseline",
                spec=None,
                workdir=state / "work" / f"baseline-{version}",
                module_timeout=args.timeout,
                test_timeout=target.test_timeout,
                resources=target.resources,
                test_paths=tuple(args.test_path),
                select=select,
            )

        def treadle_run(test: str = test, work: Path = work) -> ModuleRun:
            return _execute.run_module(
                venv,
                test,
                mode="treadle",
                spec=spec,
                workdir=work,
                module_timeout=args.timeout,
                test_timeout=target.test_timeout,
                resources=target.resources,
                test_paths=tuple(args.test_path),
                select=select,
            )

        # The same selection for both runs: the score compares like with like.
        same = json.dumps({k: v for k, v in spec.items() if k != "target"}, sort_keys=True)
        full_baseline = baselines.peek((version, test, target.resources, ()))
        full_treadle = treadle_runs.peek((version, test, target.resources, same, ()))
        if select and full_baseline is not None and full_treadle is not None:
            source = "this invocation's unselected run of the same module and substitution"
            baseline = full_baseline.restricted(select, source)
            treadle = full_treadle.restricted(select, source)
        else:
            baseline = baselines.get((version, test, target.resources, select), baseline_run)
            treadle = treadle_runs.get(
                (version, test, target.resources, same, select, target.name), treadle_run
            )
            if not select:
                treadle_runs.put((version, test, target.resources, same, ()), treadle)
        scored = score(baseline, treadle, exclusions.get(test, []), version)
        report["modules"][test] = {
            "status": "ok",
            "baseline": baseline.as_json(),
            "treadle": treadle.as_json(),
            "score": scored,
        }
        main = scored["main"]
        _say(
            f"{target.name} {version} {test}: baseline {baseline.counts()['passed']}/"
            f"{baseline.counts()['run']} in {baseline.seconds:.1f}s, treadle "
            f"{treadle.counts()['passed']}/{treadle.counts()['run']} in {treadle.seconds:.1f}s, "
            f"score {main['passed']}/{main['of']}"
            + (f" ({treadle.status}: {treadle.message})" if treadle.status != "ok" else "")
        )
    return report


def _target_notes(reports: list[dict[str, Any]]) -> list[str]:
    """Per target: the fallback modules, and the select entries that matched nothing."""
    notes: list[str] = []
    seen: set[str] = set()
    for report in reports:
        name = report["target"]
        if report["status"] != "ok":
            continue
        if report.get("fallback") and name not in seen:
            notes.append(
                f"{name}: fallback to the stdlib's own source (not treadle's code; their tests "
                f"belong to later work and are not treadle's score): "
                + ", ".join(report["fallback"])
                + (
                    "; context API from the stdlib's context.py where treadle has none: "
                    + ", ".join(report["fallback_context"])
                    if report.get("fallback_context")
                    else ""
                )
            )
        seen.add(name)
        modules = [m for m in report["modules"].values() if m["status"] == "ok"]
        unmatched = [m["baseline"].get("select_unmatched") for m in modules]
        if report.get("select") and modules and all(u is not None for u in unmatched):
            never = [e for e in report["select"] if all(e in (u or ()) for u in unmatched)]
            if never:
                notes.append(
                    f"{name} / {report['python']}: select matched no test: {', '.join(never)}"
                )
        loaded = sorted(
            {
                fallen
                for module in report["modules"].values()
                for fallen in module.get("treadle", {}).get("proof", {}).get("fallback_loaded", [])
            }
        )
        if loaded:
            notes.append(f"{name} / {report['python']}: loaded as fallback: {', '.join(loaded)}")
        filled = sorted(
            {
                attr
                for module in report["modules"].values()
                for attr in module.get("treadle", {}).get("proof", {}).get("fallback_context", [])
            }
        )
        if filled:
            where = f"{name} / {report['python']}"
            notes.append(f"{where}: filled from the stdlib: {', '.join(filled)}")
        derived = [
            test
            for test, module in report["modules"].items()
            if any("derived from" in n for n in module.get("treadle", {}).get("notes", []))
        ]
        if derived:
            notes.append(
                f"{name} / {report['python']}: selected from the unselected runs of "
                f"{', '.join(derived)} (same substitution, same invocation)"
            )
    return notes


def _pct(block: dict[str, Any]) -> str:
    if block["percent"] is None:
        return "n/a"
    return f"{block['percent']:.1f}% ({block['passed']}/{block['of']})"


def _short_id(test_id: str, test: str) -> str:
    prefix = f"test.{test}."
    return test_id[len(prefix) :] if test_id.startswith(prefix) else test_id


def render_table(reports: list[dict[str, Any]]) -> str:
    """The summary as a Markdown table, then the failed ids of each row."""
    head = (
        "| target | test module | python | baseline passed/run | treadle passed/run "
        "| score | second score | hangs/crashes |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    details: list[str] = []
    for report in reports:
        name, version = report["target"], report.get("python", "-")
        if report["status"] != "ok":
            lines.append(f"| {name} | - | {version} | {report['status']} | | | | |")
            continue
        for test, module in report["modules"].items():
            if module["status"] != "ok":
                lines.append(f"| {name} | {test} | {version} | {module['status']} | | | | |")
                continue
            base, tre = module["baseline"], module["treadle"]
            sc = module["score"]
            trouble = [f"hang {_short_id(t, test)}" for t in tre["hangs"]]
            trouble += [f"crash {_short_id(t, test)}" for t in tre["crashes"]]
            status = "" if tre["status"] == "ok" else f" ({tre['status']})"
            lines.append(
                f"| {name} | {test} | {version} "
                f"| {base['counts']['passed']}/{base['counts']['run']} "
                f"| {tre['counts']['passed']}/{tre['counts']['run']}{status} "
                f"| {_pct(sc['main'])} | {_pct(sc['second'])} "
                f"| {', '.join(trouble) or '0'} |"
            )
            failed = sc["failed"] + sc["failed_impl_detail"]
            if failed or sc["new_passes"] or tre["status"] != "ok":
                details.append(f"{name} / {test} / {version}:")
                if tre["status"] != "ok":
                    details.append(f"  treadle run {tre['status']}: {tre['message']}")
                for row in failed[:FAILED_SHOWN]:
                    mark = " [impl-detail]" if row in sc["failed_impl_detail"] else ""
                    message = f": {row['message']}" if row["message"] else ""
                    details.append(
                        f"  {row['outcome']:<8} {_short_id(row['id'], test)}{mark}{message}"[:200]
                    )
                if len(failed) > FAILED_SHOWN:
                    details.append(f"  ... and {len(failed) - FAILED_SHOWN} more")
                for tid in sc["new_passes"][:FAILED_SHOWN]:
                    details.append(f"  passes only with treadle: {_short_id(tid, test)}")
    out = "\n".join(lines)
    notes = _target_notes(reports)
    if notes:
        out += "\n\n" + "\n".join(notes)
    if details:
        out += "\n\nNot passing with treadle (tests that pass in the baseline):\n"
        out += "\n".join(details)
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 when the report was made, 2 on bad usage or a refused substitution."""
    args = parse_args(argv)
    try:
        registry = load_targets(args.targets_file)
        exclusions = load_all_exclusions(args.exclusions_dir)
    except ConfigError as exc:
        _say(f"conformance: {exc}")
        return EXIT_USAGE
    names = list(registry) if args.all else list(dict.fromkeys(args.targets))
    unknown = [n for n in names if n not in registry]
    if unknown:
        _say(f"conformance: unknown target(s) {unknown}; known: {list(registry)}")
        return EXIT_USAGE
    targets = [registry[n] for n in names]
    only = set(args.only or [])
    if only and not any(only & set(t.tests) for t in targets):
        _say(f"conformance: no selected target runs {sorted(only)}")
        return EXIT_USAGE
    versions = tuple(dict.fromkeys(args.python or SUPPORTED_VERSIONS))
    bad = [v for v in versions if v not in SUPPORTED_VERSIONS]
    if bad:
        _say(f"conformance: --python {bad}: supported are {list(SUPPORTED_VERSIONS)}")
        return EXIT_USAGE
    found = find_all(versions)
    missing = [v for v, i in found.items() if i is None]
    if missing and args.python:
        _say(f"conformance: Python {missing} not found (pyenv, debian-python, PATH)")
        return EXIT_USAGE
    for version in missing:
        _say(f"conformance: Python {version} not found: skipped")
    interpreters = {v: i for v, i in found.items() if i is not None}

    started = time.monotonic()
    not_built: dict[str, dict[str, Any]] = {}
    jobs: list[tuple[Target, Interpreter, list[str]]] = []
    for target in targets:
        gone = target.missing(args.root)
        if gone:
            _say(f"conformance: {target.name}: not built yet (missing {', '.join(gone)})")
            not_built[target.name] = {
                "target": target.name,
                "status": "not built yet",
                "missing": gone,
            }
            continue
        tests = [t for t in target.tests if not only or t in only]
        versions_of_target = target.python
        if args.all and target.all_python is not None and not args.python:
            versions_of_target = target.all_python  # CI's budget (see targets.toml)
        for version, interpreter in interpreters.items():
            if tests and version in versions_of_target:
                jobs.append((target, interpreter, tests))

    baselines = _Baselines()
    treadle_runs = _Baselines()
    results_dir = (args.state_dir or args.root / ".conformance") / "results"
    results_dir.mkdir(parents=True, exist_ok=True)

    def work(version: str) -> list[dict[str, Any]]:
        out = []
        for target, interpreter, tests in jobs:
            if interpreter.version != version:
                continue
            report = run_cell(
                target=target,
                interpreter=interpreter,
                args=args,
                exclusions=exclusions,
                baselines=baselines,
                tests=tests,
                treadle_runs=treadle_runs,
            )
            path = results_dir / f"{target.name}-{version}.json"
            path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
            out.append(report)
        return out

    def stop(signum: int, frame: object) -> None:
        _execute.STOP.set()

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if in_main else None
    pool = ThreadPoolExecutor(max_workers=args.jobs)
    try:
        # One lane per Python; the lane with the most test-module runs starts first, so
        # that the longest one (3.14's, usually) does not wait for a free worker at the end.
        load = {v: sum(len(t) for _, i, t in jobs if i.version == v) for v in interpreters}
        order = sorted(interpreters, key=lambda v: -load[v])
        futures = [pool.submit(work, version) for version in order]
        done = [future.result() for future in futures]
    except KeyboardInterrupt:
        _execute.STOP.set()
        _say("conformance: interrupted")
        return 130
    except _execute.Stopped:
        _say("conformance: stopped")
        return 143
    except _execute.Refused as exc:
        _execute.STOP.set()  # the other Pythons' runs stop too
        _say(f"conformance: REFUSED: {exc}")
        _say("conformance: no report: the run would not have tested treadle")
        return EXIT_USAGE
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        _execute.STOP.clear()
    by_key = {(r["target"], r["python"]): r for batch in done for r in batch}
    reports: list[dict[str, Any]] = []
    for target in targets:
        if target.name in not_built:
            reports.append(not_built[target.name])
        for version in interpreters:
            if (target.name, version) in by_key:
                reports.append(by_key[(target.name, version)])
    seconds = time.monotonic() - started
    print(render_table(reports))
    print(f"\n({len(jobs)} target x Python runs in {seconds:.0f} s)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "seconds": round(seconds, 1),
            "pythons": {v: i.full_version for v, i in interpreters.items()},
            "pythons_missing": missing,
            "results": reports,
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return 0
