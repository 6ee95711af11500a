"""Run a function in a child process with each start method, and get its result back.

The default start method is ``forkserver`` on Linux on every Python (3.14's default);
``get_context()`` picks another one for the objects made through it. A spawned or
forkserver child re-imports this script as ``__mp_main__`` (the ``__main__`` guard keeps
it from starting processes again) to find ``square``.
"""

from __future__ import annotations

from typing import Any

from treadle import multiprocessing


def square(conn: Any, x: int) -> None:
    """Send x squared and the name of the process back to the parent."""
    conn.send((x * x, multiprocessing.current_process().name))
    conn.close()


if __name__ == "__main__":
    print("default start method:", multiprocessing.get_start_method())
    for method in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context(method)
        receiver, sender = ctx.Pipe(duplex=False)
        p = ctx.Process(target=square, args=(sender, 7), name=f"{method}-child")
        p.start()
        sender.close()
        print(f"{method:>10}: {receiver.recv()}")
        p.join()
        receiver.close()
        print(f"{method:>10}: exit code {p.exitcode}")
