"""End a process and everything it started: ``Process.kill_tree()`` (beyond the stdlib).

The child below forks two grandchildren that would run for a minute. ``terminate()``
would end only the child and leave them behind; ``kill_tree()`` freezes the whole tree,
kills every member, and reaps the child.
"""

from __future__ import annotations

import os
import time
from typing import Any

from treadle import multiprocessing


def spawn_workers(conn: Any) -> None:
    """Fork two grandchildren that sleep, report their pids, then sleep too."""
    pids = []
    for _ in range(2):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        pids.append(pid)
    conn.send(pids)
    time.sleep(60)


def alive(pid: int) -> bool:
    """Whether *pid* is a running process (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


if __name__ == "__main__":
    receiver, sender = multiprocessing.Pipe(duplex=False)
    p = multiprocessing.Process(target=spawn_workers, args=(sender,))
    p.start()
    grandchildren = receiver.recv()
    print("child", p.pid, "started grandchildren", grandchildren)
    p.kill_tree()
    print("child exit code:", p.exitcode)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in grandchildren) and time.monotonic() < deadline:
        time.sleep(0.05)  # the orphans are reaped by init, a moment later
    print("grandchildren still running:", [pid for pid in grandchildren if alive(pid)])
    receiver.close()
    sender.close()
