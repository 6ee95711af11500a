"""Cross-interpreter queues: ``create_queue()`` and ``Queue`` (3.14's semantics).

A queue lives in one place and every interpreter reaches it by id:

* with native sub-interpreters (3.13, 3.14), in the runtime's own queue registry, shared by the
  main interpreter and every sub-interpreter;
* otherwise in the main process (``_LocalStore``);
* a process-backed interpreter's queue operations are requests to its parent, which runs
  them against the store above (``_ChildStore``, installed by the child's start-up).

Operations on a store never block: ``get``/``put`` with ``block=True`` retry with a short
back-off, as 3.14's own queues poll.
"""

from __future__ import annotations

import pickle
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from treadle import threading as _threading
from treadle.thread_core.support import check_timeout

from . import _native, _role
from ._errors import (
    ItemInterpreterDestroyed,
    NotShareableError,
    QueueEmpty,
    QueueError,
    QueueFull,
    QueueNotFoundError,
)
from ._shareable import is_shareable_deep

__all__ = [
    "UNBOUND",
    "UNBOUND_ERROR",
    "UNBOUND_REMOVE",
    "ItemInterpreterDestroyed",
    "Queue",
    "QueueEmpty",
    "QueueError",
    "QueueFull",
    "QueueNotFoundError",
    "create",
    "list_all",
    "set_store",
]


class _Unbound:
    """Marks an item whose interpreter was closed before it was taken (``UNBOUND``)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return f"treadle.interpreters._queues.{self._name}"

    def __reduce__(self) -> str:
        return self._name


UNBOUND = _Unbound("UNBOUND")
UNBOUND_ERROR = _Unbound("UNBOUND_ERROR")
UNBOUND_REMOVE = _Unbound("UNBOUND_REMOVE")
# The numbers 3.14's runtime uses for them.
_OPS = {UNBOUND_REMOVE: 1, UNBOUND_ERROR: 2, UNBOUND: 3}
_BY_OP = {op: marker for marker, op in _OPS.items()}


def _op_of(unbounditems: object) -> int:
    try:
        return _OPS[unbounditems]  # type: ignore[index]
    except (KeyError, TypeError):
        raise NotImplementedError(f"unsupported unbound replacement op {unbounditems!r}") from None


def _resolve(op: int) -> object:
    marker = _BY_OP.get(op)
    if marker is UNBOUND:
        return UNBOUND
    if marker is UNBOUND_ERROR:
        raise ItemInterpreterDestroyed("item's original interpreter destroyed")
    raise NotImplementedError(f"unsupported unbound replacement op {op!r}")


class _Pickled(bytes):
    """An item that was not shareable, kept as its pickle."""


class _LocalStore:
    """Queues kept in this (main) process, for when there are no native queues."""

    def __init__(self) -> None:
        self._lock = _threading.Lock()
        self._next = 1
        # qid -> [items, maxsize, default op, references]; an item is [obj, op, owner]
        self._queues: dict[int, list[Any]] = {}

    def _entry(self, qid: int) -> list[Any]:
        entry = self._queues.get(qid)
        if entry is None:
            raise QueueNotFoundError(f"queue {qid} not found")
        return entry

    def create(self, maxsize: int, op: int) -> int:
        with self._lock:
            qid = self._next
            self._next += 1
            self._queues[qid] = [deque(), maxsize, op, 0]
        return qid

    def list_all(self) -> list[tuple[int, int]]:
        with self._lock:
            return [(qid, entry[2]) for qid, entry in self._queues.items()]

    def bind(self, qid: int) -> None:
        with self._lock:
            self._entry(qid)[3] += 1

    def release(self, qid: int) -> None:
        with self._lock:
            entry = self._queues.get(qid)
            if entry is not None:
                entry[3] -= 1
                if entry[3] <= 0:
                    del self._queues[qid]

    def put(self, qid: int, obj: object, op: int, owner: int = 0) -> None:
        if not is_shareable_deep(obj):
            # 3.14 sends what is not shareable as a pickle: the receiver gets a copy.
            try:
                obj = _Pickled(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))
            except Exception as exc:
                raise NotShareableError(f"{obj!r} does not support cross-interpreter data") from exc
        with self._lock:
            entry = self._entry(qid)
            if 0 < entry[1] <= len(entry[0]):
                raise QueueFull(f"queue {qid} is full")
            entry[0].append([obj, entry[2] if op < 0 else op, owner])

    def get(self, qid: int) -> tuple[object, int | None]:
        with self._lock:
            items = self._entry(qid)[0]
            if not items:
                raise QueueEmpty(f"queue {qid} is empty")
            obj, op, owner = items.popleft()
        if owner is None:
            return (None, op)
        if type(obj) is _Pickled:
            return (pickle.loads(obj), None)
        return (obj, None)

    def count(self, qid: int) -> int:
        with self._lock:
            return len(self._entry(qid)[0])

    def maxsize(self, qid: int) -> int:
        with self._lock:
            return int(self._entry(qid)[1])

    def is_full(self, qid: int) -> bool:
        with self._lock:
            entry = self._entry(qid)
            return bool(0 < entry[1] <= len(entry[0]))

    def unboundop(self, qid: int) -> int:
        with self._lock:
            return int(self._entry(qid)[2])

    def unbind_owner(self, owner: int) -> None:
        """Unbind (or drop) the items put by *owner*, now closed."""
        with self._lock:
            for entry in self._queues.values():
                kept: deque[list[Any]] = deque()
                for item in entry[0]:
                    if item[2] == owner:
                        if item[1] == 1:  # UNBOUND_REMOVE
                            continue
                        item[0] = None
                        item[2] = None
                    kept.append(item)
                entry[0] = kept


class _NativeStore:
    """Queues in the runtime's registry (native sub-interpreters).

    The store's operations are those of ``_native.queues``, found on first use and kept
    on the instance; only ``put`` (no owner: the runtime knows the calling interpreter)
    and ``unbind_owner`` are its own.
    """

    def __getattr__(self, name: str) -> Any:
        found = getattr(_native.queues, name)
        setattr(self, name, found)
        return found

    def put(self, qid: int, obj: object, op: int, owner: int = 0) -> None:
        _native.queues.put(qid, obj, op)

    def unbind_owner(self, owner: int) -> None:
        """Items put for a process-backed interpreter stay bound (the main one put them)."""


_store: Any
if _role.child_store is not None:
    _store = _role.child_store
elif _native.AVAILABLE:
    _store = _NativeStore()
else:
    _store = _LocalStore()


def set_store(store: object) -> None:
    """Use *store* for every queue of this process (a process-backed child's start-up)."""
    global _store
    _store = store


def store() -> Any:
    """Return the store this process's queues use."""
    return _store


_known: weakref.WeakValueDictionary[int, Queue] = weakref.WeakValueDictionary()


def create(maxsize: int = 0, *, unbounditems: object = UNBOUND) -> Queue:
    """Return a new cross-interpreter queue holding at most *maxsize* items (0: no bound).

    *unbounditems* (``UNBOUND``, ``UNBOUND_ERROR``, ``UNBOUND_REMOVE``) is the default of
    ``put()``: what ``get()`` gives for an item whose interpreter was closed first.
    """
    if not isinstance(maxsize, int) or isinstance(maxsize, bool):
        raise TypeError(f"maxsize must be an int, not {type(maxsize).__name__}")
    op = _op_of(unbounditems)
    qid = _store.create(maxsize, op)
    return Queue(qid)


def list_all() -> list[Queue]:
    """Return every queue that exists."""
    return [Queue(qid) for qid, _ in _store.list_all()]


class Queue:
    """A queue that interpreters share; objects put in it must be shareable.

    Use :func:`create_queue` to make one; ``Queue(id)`` returns the one object of this
    interpreter for an existing queue.
    """

    _id: int

    def __new__(cls, id: int, /) -> Queue:
        """Return this interpreter's object for the queue *id*."""
        if not isinstance(id, int) or isinstance(id, bool):
            raise TypeError(f"id must be an int, got {id!r}")
        qid = int(id)
        self = _known.get(qid)
        if self is None:
            _store.bind(qid)
            self = super().__new__(cls)
            self._id = qid
            _known[qid] = self
        return self

    def __del__(self) -> None:
        try:
            qid = self._id
        except AttributeError:
            return
        try:
            _store.release(qid)
        except Exception:  # the process is shutting down, or the queue is gone
            pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._id})"

    def __hash__(self) -> int:
        return hash(self._id)

    def __reduce__(self) -> tuple[Callable[..., Queue], tuple[int]]:
        return (type(self), (self._id,))

    @property
    def id(self) -> int:
        """The queue's id, the same in every interpreter."""
        return self._id

    @property
    def maxsize(self) -> int:
        """The bound given to ``create_queue()`` (0: none)."""
        return int(_store.maxsize(self._id))

    @property
    def unbounditems(self) -> object:
        """The queue's default for ``put(unbounditems=...)``."""
        return _BY_OP.get(_store.unboundop(self._id), UNBOUND)

    def empty(self) -> bool:
        """Return True if the queue holds nothing right now."""
        return int(_store.count(self._id)) == 0

    def full(self) -> bool:
        """Return True if the queue is at its bound right now."""
        return bool(_store.is_full(self._id))

    def qsize(self) -> int:
        """Return how many items the queue holds right now."""
        return int(_store.count(self._id))

    def put(
        self,
        obj: object,
        block: bool = True,
        timeout: float | None = None,
        *,
        unbounditems: object = None,
    ) -> None:
        """Add *obj* (shareable), waiting while the queue is full if *block* is true.

        QueueFull once *timeout* seconds passed; NotShareableError for an object that
        cannot cross interpreters.
        """
        op = -1 if unbounditems is None else _op_of(unbounditems)
        if _native.AVAILABLE and carries_queue(obj):
            register_native_types()
        if not block:
            _store.put(self._id, obj, op)
            return
        deadline = _deadline(timeout)
        pause = 0.0001
        while True:
            try:
                _store.put(self._id, obj, op)
                return
            except QueueFull:
                if not _wait(deadline, pause):
                    raise
                pause = min(pause * 2, 0.01)

    def put_nowait(self, obj: object, *, unbounditems: object = None) -> None:
        """Add *obj* now, or raise QueueFull."""
        self.put(obj, False, unbounditems=unbounditems)

    def get(self, block: bool = True, timeout: float | None = None) -> object:
        """Remove and return the next item, waiting for one if *block* is true.

        QueueEmpty once *timeout* seconds passed.
        """
        if not block:
            return self.get_nowait()
        deadline = _deadline(timeout)
        pause = 0.0001
        while True:
            try:
                obj, op = _store.get(self._id)
                break
            except QueueEmpty:
                if not _wait(deadline, pause):
                    raise
                pause = min(pause * 2, 0.01)
        return obj if op is None else _resolve(op)

    def get_nowait(self) -> object:
        """Remove and return the next item now, or raise QueueEmpty."""
        obj, op = _store.get(self._id)
        return obj if op is None else _resolve(op)


def _deadline(timeout: float | None) -> float | None:
    value = check_timeout(timeout, "timeout")
    if value is None:
        return None
    if value < 0:
        raise ValueError("timeout value must be non-negative")
    return time.monotonic() + value


def _wait(deadline: float | None, pause: float) -> bool:
    """Sleep a little before the next try; False once *deadline* has passed."""
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        pause = min(pause, left)
    time.sleep(pause)
    return True


def register_native_types() -> None:
    """Let native queues carry treadle's Queue objects.

    The runtime knows one Queue class per interpreter at a time (the stdlib's, once
    ``concurrent.interpreters`` is imported): treadle takes the place only when one of
    its queues is about to cross (``prepare_main``, ``call``, ``put``), so that a
    program's stdlib queues keep working until then.
    """
    if _native.AVAILABLE:
        _native.queues.register(Queue, QueueEmpty, QueueFull)


def carries_queue(value: object) -> bool:
    """Return True if *value* is one of treadle's queues or a tuple holding one."""
    if isinstance(value, Queue):
        return True
    return type(value) is tuple and any(carries_queue(item) for item in value)


# In a sub-interpreter, treadle's Queue type is registered as soon as this module loads: a
# queue that arrives there is rebuilt from the type that interpreter registered, and the
# runtime, finding none, imports the stdlib's module for it (or, when that name stands for
# this module, fails with a SystemError). The main interpreter registers lazily (see
# register_native_types).
if _native.AVAILABLE and _native.interp.current()[0] != 0:
    register_native_types()

_ = (NotShareableError, QueueError)  # re-exported for the store's callers
