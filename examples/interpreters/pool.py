"""InterpreterPoolExecutor: each worker thread runs its tasks in an interpreter of its own."""

from __future__ import annotations

import math

from treadle.futures.interpreter import InterpreterPoolExecutor

if __name__ == "__main__":
    with InterpreterPoolExecutor(max_workers=2) as pool:
        print(list(pool.map(math.factorial, range(10))))
