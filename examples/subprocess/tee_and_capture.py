"""Watch a command's output as it runs and still get all of it back: ``run(tee=...)``.

``tee=True`` copies the child's output to this program's stdout/stderr as it arrives;
``tee=callable`` receives each piece as ``(stream name, line)`` instead ("stdout" or
"stderr"; whole lines in text mode), here to label and count them.
"""

from __future__ import annotations

import sys

from treadle import subprocess

CHILD = [
    sys.executable,
    "-c",
    "import sys\nfor i in range(3): print(f'step {i} done', flush=True)\n"
    "print('a warning', file=sys.stderr)",
]

print("-- tee=True: the child's lines appear here while they are captured")
result = subprocess.run(CHILD, tee=True, text=True)
print(f"captured {len(result.stdout.splitlines())} stdout lines, stderr={result.stderr!r}")

print("-- tee=callable: each line goes to our own handler")
seen: list[str] = []


def show(stream: str, line: str) -> None:
    seen.append(line)
    print(f"  [child {stream}] {line}", end="")


result = subprocess.run(CHILD, tee=show, text=True)
out, err = len(result.stdout), len(result.stderr)
print(f"handler saw {len(seen)} lines; captured {out} + {err} characters")
