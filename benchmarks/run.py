"""Run treadle's benchmarks against the stdlib and report ratios.

    python benchmarks/run.py                 # every package installed here
    python benchmarks/run.py thread_core     # one package
    python benchmarks/run.py --json out.json --rounds 9 --scale 0.5

Benchmarks never gate the tests (no test asserts on time); ``--check`` makes the exit
status say whether every target was met, for a person who asks.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _harness import Case, Result, measure  # noqa: E402


def _available() -> list[str]:
    leaves = []
    for path in sorted(HERE.glob("bench_*.py")):
        leaf = path.stem.removeprefix("bench_")
        if importlib.util.find_spec(f"treadle.{leaf}") is not None:
            leaves.append(leaf)
    return leaves


def _fmt(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _write_bytecode() -> None:
    """Compile treadle's sources for this interpreter, as installing a wheel does.

    The bench environment imports the packages from their source folders. Where a
    ``.pyc`` is missing or older than its source (a fresh clone on a machine that sets
    PYTHONDONTWRITEBYTECODE, or a file just edited), every interpreter that imports it
    compiles it again: a spawned child would pay several ms per start that no user of an
    installed wheel pays, and the stdlib side, whose bytecode is installed, would not.
    """
    import compileall

    import treadle

    for portion in treadle.__path__:
        compileall.compile_dir(portion, quiet=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packages", nargs="*", help="leaf names (thread_core, queue, ...)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every case's n")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)

    leaves = args.packages or _available()
    _write_bytecode()
    py = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"{py}, {args.rounds} rounds, medians; ratio = stdlib time / treadle time")
    print(f"{'case':<52} {'stdlib':>10} {'treadle':>10} {'ratio':>7} {'target':>7}")
    results: dict[str, list[Result]] = {}
    for leaf in leaves:
        module = importlib.import_module(f"bench_{leaf}")
        cases: list[Case] = module.CASES
        results[leaf] = []
        for case in cases:
            r = measure(case, rounds=args.rounds, scale=args.scale)
            results[leaf].append(r)
            flag = "" if r.met else "  MISSED"
            print(
                f"{leaf + ': ' + r.name:<52} {_fmt(r.stdlib):>10} {_fmt(r.treadle):>10} "
                f"{r.ratio:>7.2f} {r.target:>7.2f}{flag}",
                flush=True,
            )
    if args.json:
        payload = {
            "python": py,
            "rounds": args.rounds,
            "results": {
                leaf: [
                    {
                        "name": r.name,
                        "stdlib_s": r.stdlib,
                        "treadle_s": r.treadle,
                        "ratio": r.ratio,
                        "target": r.target,
                        "met": r.met,
                        "note": r.note,
                    }
                    for r in rs
                ]
                for leaf, rs in results.items()
            },
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    missed = [r for rs in results.values() for r in rs if not r.met]
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    raise SystemExit(main())
