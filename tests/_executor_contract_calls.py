"""What test_executor_contract.py sends to the executors, in a module a cluster's workers import.

test_executor_contract.py puts this folder on ``sys.path`` before it starts its cluster, and
the workers are spawned with the parent's path: they import the calls, the events and the
context variable by this module's name. (The test module itself cannot go there: pytest's
importlib mode names it after its folder, which a worker cannot import, and Dask pickles a
function by reference when it can.)
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from treadle import contextvars

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("contract_request", default="-")

# The tests' own Dask client, for their side of a Dask Event (not sent anywhere).
cluster_client: dict[str, Any] = {}


def read_request_id() -> str:
    return request_id.get()


def add(a: int, b: int) -> int:
    return a + b


def fail(message: str) -> None:
    raise ValueError(message)


def block(started: Any, release: Any) -> str:
    started.set()
    release.wait(60)
    return "released"


class ThreadEvent:
    """A plain event, for executors whose calls run in this process."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


class ThreadEventless:
    """A started-signal nobody waits for (the cluster's warm-up)."""

    def set(self) -> None:
        pass


class ClusterEvent:
    """A Dask Event, found by name on the workers and in the tests alike."""

    def __init__(self) -> None:
        self.name = f"contract-{uuid.uuid4().hex}"

    def _event(self) -> Any:
        import distributed  # type: ignore[import-not-found,unused-ignore]

        try:
            distributed.get_worker()
        except ValueError:  # in the tests: their client is not the default one
            return distributed.Event(self.name, client=cluster_client["client"])
        return distributed.Event(self.name)

    def set(self) -> None:
        self._event().set()

    def wait(self, timeout: float) -> bool:
        return bool(self._event().wait(timeout))
