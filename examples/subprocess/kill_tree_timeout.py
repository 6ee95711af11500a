"""Time out a shell script that starts background work: ``run(timeout=..., kill_tree=True)``.

With the stdlib, a timeout kills only the shell; its background ``sleep`` keeps the output
pipe open, so ``run()`` waits for it anyway. ``kill_tree=True`` signals the whole process
group (SIGTERM, then SIGKILL) and returns promptly with the partial output.
"""

from __future__ import annotations

import time

from treadle import subprocess

SCRIPT = "echo started; sleep 30 & echo 'background pid' $!; wait"

t0 = time.monotonic()
try:
    subprocess.run(SCRIPT, shell=True, capture_output=True, timeout=1, kill_tree=True)
except subprocess.TimeoutExpired as exc:
    elapsed = time.monotonic() - t0
    print(f"timed out after {exc.timeout} s; returned after {elapsed:.1f} s (not 30)")
    print("partial output:", exc.stdout.decode().split("\n")[:2])
