"""SyncManager and the proxy types of the shared objects it makes.

The objects live in the manager's server. Locks, events, barriers and queues are
treadle.threading's and treadle.queue's (3.14's behaviour, ``RLock.locked()`` included,
on every Python), imported by the server when the first one is made: a server that
shares only dicts and lists does not pay for them.
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate (spawned servers)

from __future__ import annotations

import array
import time
import types

from . import _reduction
from ._managers import BaseManager, BaseProxy, MakeProxyType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, ClassVar


# ---------------------------------------------------------------------------------------
# Objects the server holds.


class Namespace:
    """A plain object whose attributes are shared (see ``SyncManager.Namespace``)."""

    def __init__(self, /, **kwds: Any) -> None:
        self.__dict__.update(kwds)

    def __repr__(self) -> str:
        shown = sorted((k, v) for k, v in self.__dict__.items() if not k.startswith("_"))
        inner = ", ".join(f"{k}={v!r}" for k, v in shown)
        return f"{type(self).__name__}({inner})"


class Value:
    """A shared value of *typecode* (the typecode is kept, not enforced); *lock* unused."""

    def __init__(self, typecode: Any, value: Any, lock: Any = True) -> None:
        self._typecode = typecode
        self._value = value

    def get(self) -> Any:
        """Return the value."""
        return self._value

    def set(self, value: Any) -> None:
        """Replace the value."""
        self._value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._typecode!r}, {self._value!r})"

    value = property(get, set)


def Array(typecode: str, sequence: Iterable[Any], lock: Any = True) -> array.array[Any]:
    """Return an ``array.array`` of *typecode* holding *sequence* (*lock* unused)."""
    return array.array(typecode, sequence)


# The synchronisation objects, made in the server when first asked for.


def _Queue(maxsize: int = 0) -> Any:
    from treadle import queue

    return queue.Queue(maxsize)


def _Event() -> Any:
    from treadle import threading

    return threading.Event()


def _Lock() -> Any:
    from treadle import threading

    return threading.Lock()


def _RLock() -> Any:
    from treadle import threading

    return threading.RLock()


def _Semaphore(value: int = 1) -> Any:
    from treadle import threading

    return threading.Semaphore(value)


def _BoundedSemaphore(value: int = 1) -> Any:
    from treadle import threading

    return threading.BoundedSemaphore(value)


def _Condition(lock: Any = None) -> Any:
    from treadle import threading

    return threading.Condition(lock)


def _Barrier(
    parties: int, action: Callable[[], object] | None = None, timeout: float | None = None
) -> Any:
    from treadle import threading

    return threading.Barrier(parties, action, timeout)


def _Pool(*args: Any, **kwds: Any) -> Any:
    from ._pool import Pool

    return Pool(*args, **kwds)


# Dict views cannot be pickled: they travel as lists (what the stdlib's server sends).
def _view_as_list(view: Any) -> tuple[Any, ...]:
    return list, (list(view),)


_reduction.register(type({}.keys()), _view_as_list)
_reduction.register(type({}.values()), _view_as_list)
_reduction.register(type({}.items()), _view_as_list)


# ---------------------------------------------------------------------------------------
# Proxy types.


class IteratorProxy(BaseProxy):
    """A proxy of an iterator or generator in the server."""

    _exposed_ = ("__next__", "send", "throw", "close")

    def __iter__(self) -> IteratorProxy:
        return self

    def __next__(self, *args: Any) -> Any:
        return self._callmethod("__next__", args)

    def send(self, *args: Any) -> Any:
        """Send a value into the generator."""
        return self._callmethod("send", args)

    def throw(self, *args: Any) -> Any:
        """Raise an exception inside the generator."""
        return self._callmethod("throw", args)

    def close(self, *args: Any) -> Any:
        """Close the generator."""
        return self._callmethod("close", args)


class AcquirerProxy(BaseProxy):
    """A proxy of a lock or semaphore: ``acquire``, ``release``, ``locked``, ``with``."""

    _exposed_: tuple[str, ...] | None = ("acquire", "release", "locked")

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> Any:
        """Acquire, as the referent's ``acquire(blocking, timeout)``."""
        args = (blocking,) if timeout is None else (blocking, timeout)
        return self._callmethod("acquire", args)

    def release(self) -> Any:
        """Release."""
        return self._callmethod("release")

    def locked(self) -> Any:
        """Whether the referent is held."""
        return self._callmethod("locked")

    def __enter__(self) -> Any:
        return self._callmethod("acquire")

    def __exit__(self, *exc: object) -> Any:
        return self._callmethod("release")


class ConditionProxy(AcquirerProxy):
    """A proxy of a condition variable."""

    _exposed_ = ("acquire", "release", "wait", "notify", "notify_all", "locked")

    def wait(self, timeout: float | None = None) -> Any:
        """Wait to be notified (or *timeout* seconds); the lock must be held."""
        return self._callmethod("wait", (timeout,))

    def notify(self, n: int = 1) -> Any:
        """Wake up to *n* waiters."""
        return self._callmethod("notify", (n,))

    def notify_all(self) -> Any:
        """Wake every waiter."""
        return self._callmethod("notify_all")

    def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
        """Wait until ``predicate()`` is true (evaluated here, lock held); return it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            outcome = predicate()
            if outcome:
                return outcome
            remaining = None
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return outcome
            self.wait(remaining)


class EventProxy(BaseProxy):
    """A proxy of an event."""

    _exposed_ = ("is_set", "set", "clear", "wait")

    def is_set(self) -> Any:
        """Whether the flag is set."""
        return self._callmethod("is_set")

    def set(self) -> Any:
        """Set the flag, waking the waiters."""
        return self._callmethod("set")

    def clear(self) -> Any:
        """Clear the flag."""
        return self._callmethod("clear")

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the flag (at most *timeout* seconds); return it."""
        return self._callmethod("wait", (timeout,))


class BarrierProxy(BaseProxy):
    """A proxy of a barrier."""

    _exposed_ = ("__getattribute__", "wait", "abort", "reset")

    def wait(self, timeout: float | None = None) -> Any:
        """Wait for the other parties; return this party's index."""
        return self._callmethod("wait", (timeout,))

    def abort(self) -> Any:
        """Break the barrier."""
        return self._callmethod("abort")

    def reset(self) -> Any:
        """Return the barrier to its initial state."""
        return self._callmethod("reset")

    @property
    def parties(self) -> Any:
        """The number of parties."""
        return self._callmethod("__getattribute__", ("parties",))

    @property
    def n_waiting(self) -> Any:
        """The number of parties waiting."""
        return self._callmethod("__getattribute__", ("n_waiting",))

    @property
    def broken(self) -> Any:
        """Whether the barrier is broken."""
        return self._callmethod("__getattribute__", ("broken",))


class NamespaceProxy(BaseProxy):
    """A proxy whose public attributes are the referent's (read, set, deleted there)."""

    _exposed_ = ("__getattribute__", "__setattr__", "__delattr__")

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            return object.__getattribute__(self, key)
        return object.__getattribute__(self, "_callmethod")("__getattribute__", (key,))

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
            return
        object.__getattribute__(self, "_callmethod")("__setattr__", (key, value))

    def __delattr__(self, key: str) -> None:
        if key.startswith("_"):
            object.__delattr__(self, key)
            return
        object.__getattribute__(self, "_callmethod")("__delattr__", (key,))


class ValueProxy(BaseProxy):
    """A proxy of a shared value: ``get()``, ``set()`` and the ``value`` property."""

    _exposed_ = ("get", "set")

    def get(self) -> Any:
        """Return the value."""
        return self._callmethod("get")

    def set(self, value: Any) -> Any:
        """Replace the value."""
        return self._callmethod("set", (value,))

    value = property(get, set)
    __class_getitem__: Any = classmethod(types.GenericAlias)


BaseListProxy = MakeProxyType(
    "BaseListProxy",
    (
        "__add__",
        "__contains__",
        "__delitem__",
        "__getitem__",
        "__len__",
        "__mul__",
        "__reversed__",
        "__rmul__",
        "__setitem__",
        "append",
        "count",
        "extend",
        "index",
        "insert",
        "pop",
        "remove",
        "reverse",
        "sort",
        "__imul__",
        "clear",
        "copy",
    ),
)


class ListProxy(BaseListProxy):  # type: ignore[misc,valid-type]
    """A proxy of a list in the server (a ``MutableSequence``)."""

    def __iadd__(self, value: Any) -> ListProxy:
        self._callmethod("extend", (value,))
        return self

    def __imul__(self, value: Any) -> ListProxy:
        self._callmethod("__imul__", (value,))
        return self

    __class_getitem__: Any = classmethod(types.GenericAlias)


_BaseDictProxy = MakeProxyType(
    "_BaseDictProxy",
    (
        "__contains__",
        "__delitem__",
        "__getitem__",
        "__ior__",
        "__iter__",
        "__len__",
        "__or__",
        "__reversed__",
        "__ror__",
        "__setitem__",
        "clear",
        "copy",
        "fromkeys",
        "get",
        "items",
        "keys",
        "pop",
        "popitem",
        "setdefault",
        "update",
        "values",
    ),
)


class DictProxy(_BaseDictProxy):  # type: ignore[misc,valid-type]
    """A proxy of a dict in the server (a ``MutableMapping``)."""

    _method_to_typeid_: ClassVar[dict[str, str] | None] = {"__iter__": "Iterator"}

    def __ior__(self, value: Any) -> DictProxy:
        self._callmethod("__ior__", (value,))
        return self

    __class_getitem__: Any = classmethod(types.GenericAlias)


_BaseSetProxy = MakeProxyType(
    "_BaseSetProxy",
    (
        "__and__",
        "__contains__",
        "__ge__",
        "__gt__",
        "__iand__",
        "__ior__",
        "__isub__",
        "__iter__",
        "__ixor__",
        "__le__",
        "__len__",
        "__lt__",
        "__or__",
        "__rand__",
        "__ror__",
        "__rsub__",
        "__rxor__",
        "__sub__",
        "__xor__",
        "add",
        "clear",
        "copy",
        "difference",
        "difference_update",
        "discard",
        "intersection",
        "intersection_update",
        "isdisjoint",
        "issubset",
        "issuperset",
        "pop",
        "remove",
        "symmetric_difference",
        "symmetric_difference_update",
        "union",
        "update",
    ),
)


class SetProxy(_BaseSetProxy):  # type: ignore[misc,valid-type]
    """A proxy of a set in the server (3.14)."""

    _method_to_typeid_: ClassVar[dict[str, str] | None] = {"__iter__": "Iterator"}

    def __ior__(self, value: Any) -> SetProxy:
        self._callmethod("__ior__", (value,))
        return self

    def __iand__(self, value: Any) -> SetProxy:
        self._callmethod("__iand__", (value,))
        return self

    def __ixor__(self, value: Any) -> SetProxy:
        self._callmethod("__ixor__", (value,))
        return self

    def __isub__(self, value: Any) -> SetProxy:
        self._callmethod("__isub__", (value,))
        return self

    __class_getitem__: Any = classmethod(types.GenericAlias)


def _register_abcs() -> None:
    from collections.abc import MutableMapping, MutableSequence, MutableSet

    MutableSequence.register(BaseListProxy)
    MutableMapping.register(_BaseDictProxy)
    MutableSet.register(_BaseSetProxy)


_register_abcs()

ArrayProxy = MakeProxyType("ArrayProxy", ("__len__", "__getitem__", "__setitem__"))

BasePoolProxy = MakeProxyType(
    "PoolProxy",
    (
        "apply",
        "apply_async",
        "close",
        "imap",
        "imap_unordered",
        "join",
        "map",
        "map_async",
        "starmap",
        "starmap_async",
        "terminate",
    ),
)


class PoolProxy(BasePoolProxy):  # type: ignore[misc,valid-type]
    """A proxy of a process pool in the server; ``with`` terminates it on exit."""

    _method_to_typeid_: ClassVar[dict[str, str] | None] = {
        "apply_async": "AsyncResult",
        "map_async": "AsyncResult",
        "starmap_async": "AsyncResult",
        "imap": "Iterator",
        "imap_unordered": "Iterator",
    }

    def __enter__(self) -> PoolProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self._callmethod("terminate")


# ---------------------------------------------------------------------------------------
# The managers.


class SyncManager(BaseManager):
    """A manager sharing queues, locks, events, barriers, values, lists, dicts, sets...

    Each method (``Queue()``, ``Lock()``, ``dict()``...) makes the object in the server
    and returns its proxy. ``multiprocessing.Manager()`` starts one.
    """

    if TYPE_CHECKING:
        Queue: Callable[..., Any]
        JoinableQueue: Callable[..., Any]
        Event: Callable[..., EventProxy]
        Lock: Callable[..., AcquirerProxy]
        RLock: Callable[..., AcquirerProxy]
        Semaphore: Callable[..., AcquirerProxy]
        BoundedSemaphore: Callable[..., AcquirerProxy]
        Condition: Callable[..., ConditionProxy]
        Barrier: Callable[..., BarrierProxy]
        Pool: Callable[..., PoolProxy]
        list: Callable[..., ListProxy]
        dict: Callable[..., DictProxy]
        set: Callable[..., SetProxy]
        Value: Callable[..., ValueProxy]
        Array: Callable[..., Any]
        Namespace: Callable[..., NamespaceProxy]


# The shared types, by the typeid a client asks for: (what the server calls to make the
# object, the proxy type clients get; None: an AutoProxy of its exposed methods).
_SHARED_TYPES: dict[str, tuple[Callable[..., Any], type[BaseProxy] | None]] = {
    "Queue": (_Queue, None),
    "JoinableQueue": (_Queue, None),
    "Event": (_Event, EventProxy),
    "Lock": (_Lock, AcquirerProxy),
    "RLock": (_RLock, AcquirerProxy),
    "Semaphore": (_Semaphore, AcquirerProxy),
    "BoundedSemaphore": (_BoundedSemaphore, AcquirerProxy),
    "Condition": (_Condition, ConditionProxy),
    "Barrier": (_Barrier, BarrierProxy),
    "Pool": (_Pool, PoolProxy),
    "list": (list, ListProxy),
    "dict": (dict, DictProxy),
    "set": (set, SetProxy),
    "Value": (Value, ValueProxy),
    "Array": (Array, ArrayProxy),
    "Namespace": (Namespace, NamespaceProxy),
}
for _typeid, (_make, _proxytype) in _SHARED_TYPES.items():
    SyncManager.register(_typeid, _make, _proxytype)
del _typeid, _make, _proxytype
# Made by methods of other shared objects only (dict iteration, Pool.apply_async...).
SyncManager.register("Iterator", proxytype=IteratorProxy, create_method=False)
SyncManager.register("AsyncResult", create_method=False)
