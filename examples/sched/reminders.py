"""Schedule, cancel and run events; run(blocking=False) reports the time to the next one."""

from __future__ import annotations

import time

from treadle import sched


def main() -> None:
    start = time.monotonic()
    s = sched.scheduler(time.monotonic, time.sleep)

    def say(what: str) -> None:
        print(f"{time.monotonic() - start:4.2f}s  {what}")

    s.enter(0.10, 1, say, ("tea is ready",))
    soon = start + 0.05  # two events at the very same time: priority decides
    s.enterabs(soon, 1, say, ("kettle on",))
    s.enterabs(soon, 0, say, kwargs={"what": "same time, higher priority"})
    late = s.enter(10, 1, say, ("never said: cancelled",))
    many = [s.enter(60 + i, 1, say, (f"spam {i}",)) for i in range(10_000)]

    t0 = time.perf_counter()
    for event in many:
        s.cancel(event)  # O(log n), not a scan of the queue
    print(f"cancelled {len(many)} events in {time.perf_counter() - t0:.4f}s")
    s.cancel(late)

    wait = s.run(blocking=False)
    print(f"nothing due yet; next event in {wait:.2f}s" if wait else "ran what was due")
    s.run()
    print("queue empty:", s.empty())


if __name__ == "__main__":
    main()
