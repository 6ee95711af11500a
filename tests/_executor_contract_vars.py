"""The context variable of test_executor_contract.py, in a module a cluster's workers import.

test_executor_contract.py puts this folder on ``sys.path`` before it starts its cluster:
the workers (spawned with the parent's path) find the variable by this module's name.
"""

from __future__ import annotations

from treadle import contextvars

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("contract_request", default="-")


def read_request_id() -> str:
    return request_id.get()
