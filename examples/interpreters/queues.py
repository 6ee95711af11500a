"""A worker interpreter squares what it receives on one queue and answers on another."""

from __future__ import annotations

from treadle import interpreters

inbox, outbox = interpreters.create_queue(), interpreters.create_queue()
worker = interpreters.create()
try:
    worker.prepare_main(inbox=inbox, outbox=outbox)
    thread = worker.call_in_thread(
        exec, "while (n := inbox.get()) is not None:\n    outbox.put(n * n)"
    )
    for n in range(5):
        inbox.put(n)
    print([outbox.get() for _ in range(5)])
    inbox.put(None)
    thread.join()
finally:
    worker.close()
