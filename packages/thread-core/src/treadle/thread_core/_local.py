"""Thread-local data: ``local``, written in Python.

Each ``local`` object keeps one attribute dictionary per thread, keyed by the thread's
identifier. Attribute access does the lookup ``object.__getattribute__`` would do
(data descriptors of the class, then the thread's dictionary, then the rest of the
class), with the thread's dictionary standing where ``__dict__`` would be, so no lock
is taken and threads never wait for each other on a read.

A subclass that defines ``__init__`` has it called, with the constructor's arguments,
the first time each thread touches the object, as the stdlib does.

Clean-up: a thread's dictionaries must go when the thread ends (an identifier can be
reused by a later thread), and a ``local``'s dictionaries when it is collected. The end
of a thread is learned through the interpreter's own thread-local storage (see
``_native.native_death_store``): each thread that touches a ``local`` holds a marker
there, and the marker's finaliser removes that thread's entries from every ``local``
still alive.
"""

from __future__ import annotations

import weakref
from typing import Any

from ._native import get_ident, native_death_store

__all__ = ["local"]

_MISSING = object()
_death_store = native_death_store()


class _ThreadMarker:
    """Lives exactly as long as its thread; on death, removes the thread's dicts."""

    __slots__ = ("__weakref__", "ident", "owners")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.owners: weakref.WeakSet[_Impl] = weakref.WeakSet()

    def __del__(self) -> None:
        for impl in list(self.owners):
            impl.dicts.pop(self.ident, None)


def _marker() -> _ThreadMarker:
    try:
        marker: _ThreadMarker = _death_store.marker
    except AttributeError:
        marker = _ThreadMarker(get_ident())
        _death_store.marker = marker
    return marker


class _Impl:
    """The per-object state: constructor arguments and one dict per thread."""

    __slots__ = ("__weakref__", "args", "dicts", "kwargs")

    def __init__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs
        self.dicts: dict[int, dict[str, Any]] = {}


def _is_data_descriptor(attr: object) -> bool:
    kind = type(attr)
    return hasattr(kind, "__set__") or hasattr(kind, "__delete__")


def _class_lookup(cls: type, name: str) -> object:
    for klass in cls.__mro__:
        found = klass.__dict__.get(name, _MISSING)
        if found is not _MISSING:
            return found
    return _MISSING


class local:
    """Thread-local data: each thread sees its own attributes on the same object.

    Subclass it to give defaults or methods; a subclass ``__init__`` runs once in each
    thread that uses the object, with the arguments given to the constructor.
    """

    __slots__ = ("__weakref__", "_treadle_local__impl")

    def __new__(cls, *args: Any, **kwargs: Any) -> local:
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        impl = _Impl(args, kwargs)
        _IMPL_SLOT.__set__(self, impl)
        # The constructing thread's dict exists already: the interpreter is about to
        # call __init__ in this thread, and it must not run a second time.
        impl.dicts[get_ident()] = {}
        _marker().owners.add(impl)
        return self

    def __getattribute__(self, name: str) -> Any:
        d = _thread_dict(self)
        if name == "__dict__":
            return d
        cls = type(self)
        attr = _class_lookup(cls, name)
        if attr is not _MISSING and _is_data_descriptor(attr):
            return type(attr).__get__(attr, self, cls)  # type: ignore[attr-defined]
        value = d.get(name, _MISSING)
        if value is not _MISSING:
            return value
        if attr is not _MISSING:
            getter = getattr(type(attr), "__get__", None)
            return attr if getter is None else getter(attr, self, cls)
        raise AttributeError(f"{cls.__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "__dict__":
            raise AttributeError(
                f"{type(self).__name__!r} object attribute '__dict__' is read-only"
            )
        d = _thread_dict(self)
        attr = _class_lookup(type(self), name)
        setter = getattr(type(attr), "__set__", None) if attr is not _MISSING else None
        if setter is not None:
            setter(attr, self, value)
        else:
            d[name] = value

    def __delattr__(self, name: str) -> None:
        if name == "__dict__":
            raise AttributeError(
                f"{type(self).__name__!r} object attribute '__dict__' is read-only"
            )
        d = _thread_dict(self)
        attr = _class_lookup(type(self), name)
        deleter = getattr(type(attr), "__delete__", None) if attr is not _MISSING else None
        if deleter is not None:
            deleter(attr, self)
        elif name in d:
            del d[name]
        else:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __reduce__(self) -> Any:
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")


_IMPL_SLOT: Any = local.__dict__["_treadle_local__impl"]
local.__module__ = "treadle.thread_core"


def _thread_dict(obj: local) -> dict[str, Any]:
    impl: _Impl = _IMPL_SLOT.__get__(obj, local)
    ident = get_ident()
    d = impl.dicts.get(ident)
    if d is not None:
        return d
    return _first_touch(obj, impl, ident)


def _first_touch(obj: local, impl: _Impl, ident: int) -> dict[str, Any]:
    d: dict[str, Any] = {}
    impl.dicts[ident] = d
    _marker().owners.add(impl)
    init = type(obj).__init__
    if init is not object.__init__:
        try:
            init(obj, *impl.args, **impl.kwargs)
        except BaseException:
            impl.dicts.pop(ident, None)
            raise
    return d
