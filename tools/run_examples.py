"""Run every example of every installed treadle package (the README's main job).

    python tools/run_examples.py                  # every leaf under examples/
    python tools/run_examples.py thread_core queue
    python tools/run_examples.py --timeout 30

For each ``examples/<leaf>/`` whose package ``treadle.<leaf>`` is importable here (the
others are skipped, and the output says so), each ``*.py`` runs as a child of this
interpreter, in its own empty temporary directory, with a timeout. Its output is printed
under a header. The last line is ``N passed, N failed``; the exit status is 1 when an
example failed or timed out.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Outcome:
    """How one example ended."""

    path: Path
    ok: bool
    detail: str
    output: str


def installed(leaf: str) -> bool:
    """Whether ``treadle.<leaf>`` can be imported by this interpreter."""
    try:
        return importlib.util.find_spec(f"treadle.{leaf}") is not None
    except (ImportError, ValueError):
        return False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_example(path: Path, timeout: float) -> Outcome:
    """Run one example in a fresh temporary directory; never raises for its failures."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory(prefix="treadle-example-", ignore_cleanup_errors=True) as cwd:
        start = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, str(path)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,  # so a timeout kills the example's children too
        )
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            output, _ = proc.communicate()
            return Outcome(path, False, f"timed out after {timeout:g} s", output)
        elapsed = time.monotonic() - start
    if proc.returncode != 0:
        return Outcome(path, False, f"exit status {proc.returncode}", output)
    return Outcome(path, True, f"{elapsed:.1f} s", output)


def leaves_in(examples: Path) -> list[str]:
    """The leaf folders under ``examples/``."""
    if not examples.is_dir():
        return []
    return sorted(
        p.name for p in examples.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("leaves", nargs="*", metavar="LEAF", help="only these packages")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per example (60)"
    )
    parser.add_argument(
        "--examples", type=Path, default=ROOT / "examples", help="the examples folder"
    )
    args = parser.parse_args(argv)
    examples: Path = args.examples.resolve()

    errors = 0
    if args.leaves:
        leaves = []
        for name in args.leaves:
            leaf = name.removeprefix("treadle.").removeprefix("treadle-").replace("-", "_")
            if not (examples / leaf).is_dir():
                print(f"error: no examples for {name!r} (no folder {examples / leaf})")
                errors += 1
            else:
                leaves.append(leaf)
    else:
        leaves = leaves_in(examples)

    outcomes: list[Outcome] = []
    skipped: list[str] = []
    for leaf in leaves:
        if not installed(leaf):
            skipped.append(leaf)
            print(f"--- skipping examples/{leaf}/: treadle.{leaf} is not installed here")
            continue
        scripts = sorted((examples / leaf).glob("*.py"))
        if not scripts:
            print(f"--- examples/{leaf}/ holds no example")
        for script in scripts:
            rel = f"examples/{leaf}/{script.name}"
            print(f"=== {rel} ===", flush=True)
            outcome = run_example(script, args.timeout)
            outcomes.append(outcome)
            if outcome.output:
                print(outcome.output, end="" if outcome.output.endswith("\n") else "\n")
            verdict = "ok" if outcome.ok else "FAILED"
            print(f"--- {verdict}: {rel} ({outcome.detail})", flush=True)

    passed = sum(o.ok for o in outcomes)
    failed = len(outcomes) - passed
    print()
    for outcome in outcomes:
        if not outcome.ok:
            print(f"FAILED {outcome.path.parent.name}/{outcome.path.name}: {outcome.detail}")
    if skipped:
        print(f"skipped (not installed): {', '.join(skipped)}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
