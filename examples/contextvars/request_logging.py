"""Per-request values in an asyncio server, read by logging, with no argument passing.

Each simulated request runs in its own asyncio task; the task's context carries the
request id that a logging filter adds to every record. Requests run interleaved, yet
each log line names its own request, and a temporary change made with the 3.14
``with var.set(...)`` form undoes itself.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from treadle.contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("request_id", default="-")
user: ContextVar[str] = ContextVar("user", default="anonymous")


class RequestFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.user = user.get()
        return True


handler = logging.StreamHandler(sys.stdout)
handler.addFilter(RequestFilter())
handler.setFormatter(logging.Formatter("[%(request_id)s %(user)s] %(message)s"))
log = logging.getLogger("example")
log.addHandler(handler)
log.setLevel(logging.INFO)


async def lookup(item: str) -> str:
    await asyncio.sleep(0)  # let the other requests run in between
    log.info("looking up %s", item)
    return item.upper()


async def handle(rid: str, who: str, items: list[str]) -> list[str]:
    request_id.set(rid)
    user.set(who)
    log.info("start")
    results = [await lookup(item) for item in items]
    with user.set("admin"):  # temporarily elevated; reset when the block ends
        log.info("audit")
    log.info("done: %s", results)
    return results


async def main() -> None:
    log.info("server up")
    requests = [("r1", "alice", ["a", "b"]), ("r2", "bob", ["c"]), ("r3", "carol", ["d", "e"])]
    answers = await asyncio.gather(*(handle(*r) for r in requests))
    assert answers == [["A", "B"], ["C"], ["D", "E"]]
    assert request_id.get() == "-"  # nothing leaked back into the caller
    log.info("server down")


asyncio.run(main())
