"""ctypes objects in shared memory, with or without a lock.

Every object lives in a block of the shared heap (:mod:`._heap`): a fork child sees it
through the inherited mapping, a spawn or forkserver child gets the heap's arena with its
arguments. Such an object may only reach a child that way (as a ``Process`` argument);
sending it through a pipe or queue later is refused with the stdlib's ``RuntimeError``.
"""

from __future__ import annotations

import ctypes
import operator
import weakref

from . import _context, _heap, _native
from ._reduction import ForkingPickler

# Annotations only: importing typing would cost a spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


#: The array module's type codes, as ctypes types.
typecode_to_type: dict[str, Any] = {
    "c": ctypes.c_char,
    "u": ctypes.c_wchar,
    "b": ctypes.c_byte,
    "B": ctypes.c_ubyte,
    "h": ctypes.c_short,
    "H": ctypes.c_ushort,
    "i": ctypes.c_int,
    "I": ctypes.c_uint,
    "l": ctypes.c_long,
    "L": ctypes.c_ulong,
    "q": ctypes.c_longlong,
    "Q": ctypes.c_ulonglong,
    "f": ctypes.c_float,
    "d": ctypes.c_double,
}


def _ctype_of(typecode_or_type: Any) -> Any:
    """Return the ctypes type a type code names (or the type itself); TypeError if none."""
    if isinstance(typecode_or_type, str):
        found = typecode_to_type.get(typecode_or_type)
        if found is None:
            raise TypeError(
                f"typecode_or_type: unknown type code {typecode_or_type!r}"
                f" (expected one of {''.join(typecode_to_type)!r} or a ctypes type)"
            )
        return found
    try:
        ctypes.sizeof(typecode_or_type)
    except TypeError:
        raise TypeError(
            f"typecode_or_type must be a type code or a ctypes type, not {typecode_or_type!r}"
        ) from None
    return typecode_or_type


def rebuild_ctype(type_: Any, wrapper: _heap.BufferWrapper, length: int | None) -> Any:
    """Return a *type_* object (an array of *length* if given) over *wrapper*'s memory."""
    if length is not None:
        type_ = type_ * length
    if type_ not in ForkingPickler._extra_reducers:
        # Objects of this type pickle as their block (to a child being started only).
        ForkingPickler.register(type_, reduce_ctype)
    obj = type_.from_buffer(wrapper.create_memoryview())
    obj._wrapper = wrapper  # the block lives as long as the object
    return obj


def reduce_ctype(obj: Any) -> tuple[Any, ...]:
    """Pickle a shared ctypes object as its block, for a child being started only."""
    _context.assert_spawning(obj)
    kind: Any = type(obj)
    # An array type is made at run time and cannot be pickled by name: its item type
    # and length travel instead.
    length = getattr(kind, "_length_", None)
    item = kind if length is None else kind._type_
    return rebuild_ctype, (item, obj._wrapper, length)


def _zeroed(type_: Any) -> Any:
    size = ctypes.sizeof(type_)
    wrapper = _heap.BufferWrapper(size)
    # A reused block holds what its last owner left: start from zero bytes.
    wrapper.create_memoryview()[:] = bytes(size)
    return rebuild_ctype(type_, wrapper, None)


def RawValue(typecode_or_type: Any, *args: Any) -> Any:
    """Return a ctypes object in shared memory, initialised with *args* (no lock)."""
    obj = _zeroed(_ctype_of(typecode_or_type))
    if args:
        obj.__init__(*args)
    return obj


def RawArray(typecode_or_type: Any, size_or_initializer: Any) -> Any:
    """Return a shared ctypes array: zeroed of a given size, or holding the items given."""
    item = _ctype_of(typecode_or_type)
    if isinstance(size_or_initializer, int):
        if size_or_initializer < 0:
            raise ValueError(f"size_or_initializer must not be negative, got {size_or_initializer}")
        return _zeroed(item * size_or_initializer)
    try:
        items = list(size_or_initializer)
    except TypeError:
        raise TypeError(
            "size_or_initializer must be an int or an iterable,"
            f" not {type(size_or_initializer).__name__}"
        ) from None
    obj = _zeroed(item * len(items))
    obj.__init__(*items)
    return obj


def _lock_for(lock: Any, ctx: Any) -> Any:
    if lock is True or lock is None:
        return (ctx or _context._default_context.get_context()).RLock()
    if not hasattr(lock, "acquire"):
        # The stdlib's error for a lock= that is neither a bool nor a lock.
        raise AttributeError(f"{lock!r} has no method 'acquire'")
    return lock


def Value(typecode_or_type: Any, *args: Any, lock: Any = True, ctx: Any = None) -> Any:
    """Return a shared ctypes object wrapped with a lock (``lock=False``: the raw object).

    *lock* True or None makes a new recursive lock (of context *ctx*); otherwise it must
    be a lock object (AttributeError if it has no ``acquire``).
    """
    obj = RawValue(typecode_or_type, *args)
    if lock is False:
        return obj
    return synchronized(obj, _lock_for(lock, ctx), ctx=ctx)


def Array(
    typecode_or_type: Any, size_or_initializer: Any, *, lock: Any = True, ctx: Any = None
) -> Any:
    """Return a shared ctypes array wrapped with a lock (``lock=False``: the raw array).

    *lock* as for :func:`Value`.
    """
    obj = RawArray(typecode_or_type, size_or_initializer)
    if lock is False:
        return obj
    return synchronized(obj, _lock_for(lock, ctx), ctx=ctx)


def copy(obj: Any) -> Any:
    """Return a new shared ctypes object holding a copy of *obj*'s bytes."""
    duplicate = _zeroed(type(obj))
    ctypes.memmove(ctypes.addressof(duplicate), ctypes.addressof(obj), ctypes.sizeof(obj))
    return duplicate


# Wrappers ------------------------------------------------------------------------------


class SynchronizedBase:
    """A shared ctypes object with the lock that guards it.

    ``acquire``/``release`` and ``with`` take the lock; :meth:`get_obj` and
    :meth:`get_lock` return the two parts.
    """

    def __init__(self, obj: Any, lock: Any = None, ctx: Any = None) -> None:
        """Wrap *obj* with *lock* (a new recursive lock of *ctx* if none is given)."""
        self._obj = obj
        self._lock = lock if lock is not None else _lock_for(True, ctx)
        # The lock's own bound methods: the properties' hot path calls them directly.
        self.acquire, self.release = self._lock.acquire, self._lock.release

    def __enter__(self) -> Any:
        return self._lock.__enter__()

    def __exit__(self, *exc_info: Any) -> Any:
        return self._lock.__exit__(*exc_info)

    def __reduce__(self) -> tuple[Any, ...]:
        _context.assert_spawning(self)
        return synchronized, (self._obj, self._lock)

    def get_obj(self) -> Any:
        """Return the wrapped ctypes object."""
        return self._obj

    def get_lock(self) -> Any:
        """Return the lock that guards the object."""
        return self._lock

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapper for {self._obj}>"


def make_property(name: str) -> property:
    """Return a property that gets and sets the wrapped object's *name* under the lock."""
    fetch = operator.attrgetter(name)

    def read(self: SynchronizedBase) -> Any:
        self.acquire()
        try:
            return fetch(self._obj)
        finally:
            self.release()

    def write(self: SynchronizedBase, value: Any) -> None:
        self.acquire()
        try:
            setattr(self._obj, name, value)
        finally:
            self.release()

    return property(read, write, doc=f"The wrapped object's {name}, under the lock.")


class Synchronized(SynchronizedBase):
    """A shared simple ctypes value with its lock; ``value`` is read and set under it."""

    value = make_property("value")


class SynchronizedArray(SynchronizedBase):
    """A shared ctypes array with its lock: items and slices are read and set under it."""

    def __len__(self) -> int:
        return len(self._obj)

    def __getitem__(self, index: Any) -> Any:
        with self._lock:
            return self._obj[index]

    def __setitem__(self, index: Any, value: Any) -> None:
        with self._lock:
            self._obj[index] = value

    def __getslice__(self, start: int, stop: int) -> Any:
        with self._lock:
            return self._obj[start:stop]

    def __setslice__(self, start: int, stop: int, values: Any) -> None:
        with self._lock:
            self._obj[start:stop] = values


class SynchronizedString(SynchronizedArray):
    """A shared ``c_char`` array with its lock: ``value`` (up to a NUL) and ``raw``."""

    value = make_property("value")
    raw = make_property("raw")


# A wrapper class per Structure/Union type, with a property per field; cached weakly so
# that a type made at run time can go away.
_struct_wrappers: weakref.WeakKeyDictionary[type, type] = weakref.WeakKeyDictionary()


def _wrapper_class(ctype: type) -> type:
    found = _struct_wrappers.get(ctype)
    if found is None:
        fields = getattr(ctype, "_fields_", ())
        namespace: dict[str, Any] = {field[0]: make_property(field[0]) for field in fields}
        namespace["__module__"] = Synchronized.__module__
        found = type("Synchronized" + ctype.__name__, (SynchronizedBase,), namespace)
        _struct_wrappers[ctype] = found
    return found


def synchronized(obj: Any, lock: Any = None, ctx: Any = None) -> Any:
    """Wrap the shared ctypes object *obj* with *lock* (a new recursive lock if None)."""
    if isinstance(obj, SynchronizedBase):
        raise TypeError(f"object already synchronized: {obj!r}")
    if isinstance(obj, _native.simple_cdata_type()):
        return Synchronized(obj, lock, ctx)
    if isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return SynchronizedString(obj, lock, ctx)
        return SynchronizedArray(obj, lock, ctx)
    return _wrapper_class(type(obj))(obj, lock, ctx)
