"""treadle threads next to the stdlib: logging, the stdlib's registry, and exit order."""

from __future__ import annotations

import atexit
import logging
import threading as stdlib_threading

from treadle import threading

logging.basicConfig(format="%(threadName)s: %(message)s", level=logging.INFO)


def work() -> None:
    logging.info("hello from a treadle thread")
    names = sorted(t.name for t in stdlib_threading.enumerate())
    logging.info("the stdlib sees %s", names)


stop = threading.Event()
background = stdlib_threading.Thread(target=stop.wait, name="stdlib-thread")
background.start()
t = threading.Thread(target=work, name="treadle-thread")
t.start()
t.join()
print("treadle sees:", sorted(th.name for th in threading.enumerate()))
stop.set()
background.join()

# At exit: _register_atexit callbacks run when non-daemon threads are joined, then atexit.
late = threading.Thread(target=stop.wait, name="late")
stop.clear()
late.start()


def release_late() -> None:
    print("thread-join step: releasing 'late'")
    stop.set()


threading._register_atexit(release_late)
atexit.register(lambda: print("atexit: 'late' alive?", late.is_alive()))
