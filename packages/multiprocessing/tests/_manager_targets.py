"""Targets of the children in test_managers.py (spawned children import them by name)."""

from __future__ import annotations

from typing import Any

from treadle import multiprocessing
from treadle.multiprocessing import managers


def fill(shared: Any, log: Any, lock: Any, tag: str) -> None:
    """Record *tag* in a dict, a list and a counter, the counter under *lock*."""
    shared[tag] = multiprocessing.current_process().pid
    log.append(tag)
    with lock:
        shared["count"] = shared.get("count", 0) + 1


def grandchild(queue: Any) -> None:
    """Take a dict proxy from a manager queue and write through it."""
    found = queue.get(timeout=30)
    found["grandchild"] = "was here"


def child_with_grandchild(queue: Any, method: str) -> None:
    """Start a grandchild that reads the proxy from *queue*; wait for it."""
    proc = multiprocessing.get_context(method).Process(target=grandchild, args=(queue,))
    proc.start()
    proc.join()


def sum_ints(*values: int) -> int:
    """Return the sum of *values* (a function a pool or a manager can call)."""
    return sum(values)


def square(value: int) -> int:
    """Return value squared."""
    return value * value


class Counter:
    """A plain object shared by a custom manager."""

    def __init__(self, start: int = 0) -> None:
        self.value = start

    def add(self, step: int = 1) -> int:
        """Add *step*; return the new value."""
        self.value += step
        return self.value

    def fail(self) -> None:
        """Raise a KeyError (travels back as itself)."""
        raise KeyError("missing")

    def counts(self) -> list[int]:
        """Return a list (shared as a 'list' proxy by method_to_typeid)."""
        return [self.value]


class CounterManager(managers.BaseManager):
    """A manager of Counter objects."""


CounterManager.register("Counter", Counter, method_to_typeid={"counts": "list"})
CounterManager.register("list", list, managers.ListProxy, create_method=False)

_initialized: list[int] = []


def remember(value: int) -> None:
    """An initializer: keep *value* for get_initialized()."""
    _initialized.append(value)


def get_initialized() -> list[int]:
    """What remember() kept in this process."""
    return _initialized


class InitManager(managers.BaseManager):
    """A manager whose server reports what its initializer did."""


InitManager.register("initialized", get_initialized, managers.ListProxy)


def serve(address: Any, authkey: bytes, serializer: str, ready: Any) -> None:
    """Serve a CounterManager at *address* until someone shuts it down."""
    manager = CounterManager(address=address, authkey=authkey, serializer=serializer)
    server = manager.get_server()
    ready.send(server.address)
    ready.close()
    server.serve_forever()
