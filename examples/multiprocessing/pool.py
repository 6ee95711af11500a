"""A process pool: map, imap with bounded read-ahead, and a worker that dies.

Run it: ``python examples/multiprocessing/pool.py``. It prints the squares of a range,
the first results of an endless input read with ``buffersize``, and what happens to a
task whose worker is killed: its result fails with ``WorkerLostError`` (naming the pid
and the signal) and the pool carries on with a fresh worker, where the stdlib's pool
would wait for ever.
"""

from __future__ import annotations

import itertools
import os
import signal

from treadle import multiprocessing
from treadle.multiprocessing.pool import WorkerLostError


def square(x: int) -> int:
    """Return x * x."""
    return x * x


def kill_myself() -> None:
    """End this worker with SIGKILL, as the OOM killer would."""
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    """Run the three demonstrations on a pool of two workers."""
    with multiprocessing.get_context("forkserver").Pool(2) as pool:
        print("map:", pool.map(square, range(10)))

        # An endless input: buffersize bounds how much of it is read ahead.
        squares = pool.imap(square, itertools.count(), buffersize=8)
        print("imap:", [next(squares) for _ in range(5)])

        try:
            pool.apply(kill_myself)
        except WorkerLostError as error:
            print("lost:", error)
        print("still working:", pool.apply(square, (12,)))


if __name__ == "__main__":
    main()
