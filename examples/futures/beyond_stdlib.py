"""Opt-ins: context propagation into pool tasks, and backpressure with max_pending."""

from __future__ import annotations

import threading

from treadle import contextvars, futures

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def handle(item: int) -> str:
    return f"{request_id.get()}:{item}"


def main() -> None:
    request_id.set("req-42")
    with futures.ThreadPoolExecutor(2, propagate_context=True) as pool:
        print("propagate_context:", pool.submit(handle, 1).result())
    with futures.ThreadPoolExecutor(2) as pool:
        print("default (3.14 behaviour):", pool.submit(handle, 1).result())

    gate = threading.Event()
    with futures.ThreadPoolExecutor(1, max_pending=2, submit_timeout=0.05) as pool:
        pool.submit(gate.wait)  # occupies the only worker
        pool.submit(handle, 2)
        pool.submit(handle, 3)  # two tasks wait: the pool is full
        try:
            pool.submit(handle, 4)
        except TimeoutError as exc:
            print("max_pending=2:", exc)
        gate.set()


if __name__ == "__main__":
    main()
