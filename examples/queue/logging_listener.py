"""logging's QueueHandler/QueueListener over a treadle queue (they catch queue.Empty)."""

from __future__ import annotations

import logging
import logging.handlers
import queue as stdlib_queue

from treadle import queue, threading


def main() -> None:
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    console = logging.StreamHandler()
    console.setFormatter(logging.Formatter("%(threadName)s: %(message)s"))
    listener = logging.handlers.QueueListener(records, console)

    log = logging.getLogger("example")
    log.setLevel(logging.INFO)
    log.propagate = False
    log.addHandler(logging.handlers.QueueHandler(records))

    listener.start()  # a stdlib thread draining the treadle queue
    threads = [
        threading.Thread(target=log.info, args=("hello from %s", i), name=f"t{i}") for i in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    listener.stop()
    print("treadle Empty is a stdlib Empty:", issubclass(queue.Empty, stdlib_queue.Empty))


if __name__ == "__main__":
    main()
