"""ContextVar, Token, Context and copy_context.

Where the values live: the current interpreter context holds one interpreter variable,
``_native.STATE``, whose value is an immutable map (``_pmap``) from treadle variables to
their values. ``ContextVar.get`` reads the map, ``ContextVar.set`` replaces it with a new
one. A treadle :class:`Context` wraps an interpreter context; ``Context.run`` enters it
with the interpreter's own ``run``, so that entering, leaving, copying and the
"already entered" check are the interpreter's, and asyncio, ``to_thread`` and new
threads treat treadle's variables exactly as they treat the stdlib's.
"""

from __future__ import annotations

import collections.abc
import reprlib
from collections.abc import Callable, ItemsView, Iterator, KeysView, ValuesView
from types import GenericAlias, TracebackType
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, final, overload

from . import _native
from ._native import NativeContext, native_copy_context, state_get
from ._native import state_reset as _state_reset
from ._native import state_set as _state_set
from ._pmap import (
    ABSENT,
    SMALL_MAX,
    PMap,
    map_delete,
    map_equal,
    map_items,
    map_promote,
    map_set,
    new_hkey,
)

if TYPE_CHECKING:
    from typing import Generic as _Generic

    from typing_extensions import ParamSpec, Self

    _P = ParamSpec("_P")
    _MappingBase = collections.abc.Mapping["ContextVar[Any]", Any]
else:

    class _Generic:
        """Runtime base: ``ContextVar[int]`` is a ``types.GenericAlias``, as in the stdlib."""

        __slots__ = ()

        def __class_getitem__(cls, item: object) -> GenericAlias:
            return GenericAlias(cls, item)

    _MappingBase = object

__all__ = ["Context", "ContextVar", "Token", "copy_context"]

_T = TypeVar("_T")
_D = TypeVar("_D")
_R = TypeVar("_R")

_MODULE = "treadle.contextvars"
_new_object = object.__new__


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no default>"


_NO_DEFAULT: Any = _NoDefault()
_NO_CACHE: tuple[int, Any] = (0, ABSENT)  # trie versions start at 1


def _no_subclass(cls: type) -> NoReturn:
    base = cls.__mro__[1]
    raise TypeError(f"type '{_MODULE}.{base.__name__}' is not an acceptable base type")


def _refuse_pickle(obj: object) -> NoReturn:
    raise TypeError(f"cannot pickle '{_MODULE}.{type(obj).__name__}' object")


def _key_error(key: object) -> NoReturn:
    raise TypeError(f"a ContextVar key was expected, got {key!r}")


@final
class ContextVar(_Generic[_T]):
    """A context variable: a value per context, as ``contextvars.ContextVar``.

    ``ContextVar(name, *, default=...)``. Create variables at module level, never in
    closures: a context keeps a strong reference to every variable set in it.
    """

    __slots__ = ("_cache", "_default", "_hkey", "_name")

    _name: str
    _default: Any
    _hkey: int
    _cache: tuple[int, Any]

    # Built in __new__ (not __init__) so that calling __init__ again changes nothing.
    @overload
    def __new__(cls, name: str, /) -> Self: ...
    @overload
    def __new__(cls, name: str, /, *, default: _T) -> Self: ...
    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        if len(args) != 1:
            if not args:
                raise TypeError("ContextVar() takes exactly 1 positional argument (0 given)")
            raise TypeError(f"ContextVar() takes at most 1 positional argument ({len(args)} given)")
        default = kwargs.pop("default", _NO_DEFAULT)
        if kwargs:
            name = next(iter(kwargs))
            raise TypeError(f"ContextVar() got an unexpected keyword argument {name!r}")
        name = args[0]
        if not isinstance(name, str):
            raise TypeError("context variable name must be a str")
        hash(name)  # as the stdlib: an unhashable str subclass is refused here
        self = _new_object(cls)
        self._name = name
        self._default = default
        self._hkey = new_hkey()
        self._cache = _NO_CACHE
        return self

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        _no_subclass(cls)

    @property
    def name(self) -> str:
        """The variable's name (read-only)."""
        return self._name

    @overload
    def get(self, /) -> _T: ...
    @overload
    def get(self, default: _T, /) -> _T: ...
    @overload
    def get(self, default: _D, /) -> _D | _T: ...
    def get(self, default: Any = _NO_DEFAULT, /) -> Any:
        """Return the variable's value in the current context.

        Without a value in the context, return *default* if given, else the variable's
        default, else raise :exc:`LookupError`.
        """
        value = state_get().get(self, default)
        if value is _NO_DEFAULT:
            value = self._default
            if value is _NO_DEFAULT:
                raise LookupError(self)
        return value

    def set(self, value: _T, /) -> Token[_T]:
        """Set the variable's value in the current context; return a :class:`Token`.

        The token restores the previous value with :meth:`reset`, or as a context
        manager: ``with var.set(value): ...`` (3.14 behaviour, on every version).
        """
        current: PMap = state_get()
        new: PMap
        if type(current) is dict:
            new = current.copy()  # small maps are copied on write (see _pmap)
            new[self] = value
            if len(new) > SMALL_MAX:
                new = map_promote(new)
        else:
            new = map_set(current, self, value)
        token: Token[_T] = _alloc_token()
        token._var = self
        token._prev = current
        token._new = new
        token._native = _state_set(new)
        return token

    def reset(self, token: Token[_T], /) -> None:
        """Restore the value the variable had before the ``set`` that made *token*.

        Raises :exc:`RuntimeError` if the token was already used, :exc:`ValueError` if it
        was made by another variable or in another context.
        """
        if type(token) is not Token:
            raise TypeError(f"expected an instance of Token, got {token!r}")
        native = token._native
        if native is None:
            raise RuntimeError(f"{token!r} has already been used once")
        if token._var is not self:
            raise ValueError(f"{token!r} was created by a different ContextVar")
        current = state_get()
        # The interpreter's reset checks that this is the context the token was made in,
        # and brings the state back to what it was before that set().
        try:
            _state_reset(native)
        except ValueError:
            raise ValueError(f"{token!r} was created in a different Context") from None
        except RuntimeError:  # another thread used the token at the same moment
            raise RuntimeError(f"{token!r} has already been used once") from None
        new = token._new
        token._native = None
        token._new = None
        self._cache = _NO_CACHE
        if current is not new:
            # Other variables changed since the set: keep their values, restore this one.
            old = token._prev.get(self, _MISSING)
            if old is _MISSING:
                _state_set(map_delete(current, self))
            else:
                _state_set(map_set(current, self, old))
        # ``current`` is released only on return, after the state is final: a finalizer
        # that the dropped value runs then (and that may set variables) comes last.

    def __repr__(self) -> str:
        return self._repr()

    @reprlib.recursive_repr()
    def _repr(self) -> str:
        default = "" if self._default is _NO_DEFAULT else f" default={self._default!r}"
        return f"<ContextVar name={self._name!r}{default} at 0x{id(self):x}>"

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)

    def __copy__(self) -> NoReturn:
        _refuse_pickle(self)

    def __deepcopy__(self, memo: object) -> NoReturn:
        _refuse_pickle(self)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<Token.MISSING>"

    def __reduce__(self) -> NoReturn:
        raise TypeError("cannot pickle 'Token.MISSING' object")


_MISSING = _Missing()


if TYPE_CHECKING:
    _TokenMeta = type
    _ContextMeta = type
else:

    class _TokenMeta(type):
        """Refuses ``Token()``: tokens come from ``ContextVar.set`` only."""

        def __call__(cls, *args, **kwargs):
            raise RuntimeError("Tokens can only be created by ContextVars")

    class _ContextMeta(type):
        """``Context()``: a new, empty context (and no arguments)."""

        def __call__(cls, *args, **kwargs):
            if args or kwargs:
                raise TypeError("Context() does not accept any arguments")
            ctx = _alloc_context()
            ctx._native = NativeContext()
            return ctx


@final
class Token(_Generic[_T], metaclass=_TokenMeta):
    """What :meth:`ContextVar.set` returns: it can undo that set, once.

    ``var.reset(token)`` or, as in 3.14, ``with var.set(value): ...``.
    """

    __slots__ = ("_native", "_new", "_prev", "_var")

    MISSING: Any = _MISSING
    """The marker :attr:`old_value` holds when the variable had no value before."""

    __hash__ = None  # type: ignore[assignment]  # unhashable, as in the stdlib

    _var: ContextVar[_T]
    _prev: PMap  # the map before the set: old_value is read from it
    _new: PMap | None
    _native: Any

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        _no_subclass(cls)

    @property
    def var(self) -> ContextVar[_T]:
        """The variable that made this token."""
        return self._var

    @property
    def old_value(self) -> Any:
        """The variable's value before the set, or :attr:`Token.MISSING`."""
        return self._prev.get(self._var, _MISSING)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self._var.reset(self)

    def __repr__(self) -> str:
        used = " used" if self._native is None else ""
        return f"<Token{used} var={self._var!r} at 0x{id(self):x}>"

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)

    def __copy__(self) -> NoReturn:
        _refuse_pickle(self)

    def __deepcopy__(self, memo: object) -> NoReturn:
        _refuse_pickle(self)


class _Snapshot(collections.abc.Mapping[Any, Any]):
    """A read-only Mapping over one map, for the views keys(), values() and items()."""

    __slots__ = ("_map",)

    def __init__(self, m: PMap) -> None:
        self._map = m

    def __getitem__(self, key: Any) -> Any:
        value = self._map.get(key, ABSENT) if type(key) is ContextVar else ABSENT
        if value is ABSENT:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[Any]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)


class _ItemsView(ItemsView[Any, Any]):
    __slots__ = ("_pmap",)

    def __init__(self, m: PMap) -> None:
        super().__init__(_Snapshot(m))
        self._pmap = m

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return map_items(self._pmap)


class _ValuesView(ValuesView[Any]):
    __slots__ = ("_pmap",)

    def __init__(self, m: PMap) -> None:
        super().__init__(_Snapshot(m))
        self._pmap = m

    def __iter__(self) -> Iterator[Any]:
        return iter(self._pmap.values())


@final
class Context(_MappingBase, metaclass=_ContextMeta):
    """A mapping of context variables to their values, that code can run in.

    ``Context()`` is empty; :func:`copy_context` copies the current one. Read-only
    ``Mapping`` interface (registered as a ``collections.abc.Mapping``, as in 3.14);
    :meth:`run` runs code in the context.
    """

    __slots__ = ("__weakref__", "_native")

    _native: NativeContext

    __hash__ = None  # type: ignore[assignment]  # unhashable, as in the stdlib

    if TYPE_CHECKING:

        def __init__(self) -> None: ...

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        _no_subclass(cls)

    def _map(self) -> PMap:
        m: PMap = self._native.get(_native.STATE, _native.EMPTY)
        return m

    def run(self, callable: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``callable(*args, **kwargs)`` in this context; return its result.

        Changes the callable makes to context variables stay in this context. Raises
        :exc:`RuntimeError` if the context is already entered, in any thread.
        """
        try:
            return self._native.run(callable, *args, **kwargs)
        except RuntimeError as exc:
            # The interpreter refused to enter our context: say so about this object.
            if exc.args == (f"cannot enter context: {self._native!r} is already entered",):
                raise RuntimeError(f"cannot enter context: {self!r} is already entered") from None
            raise

    def copy(self) -> Context:
        """Return a shallow copy of this context (O(1))."""
        ctx: Context = _alloc_context()
        ctx._native = self._native.copy()
        return ctx

    def __getitem__(self, key: ContextVar[_T], /) -> _T:
        if type(key) is not ContextVar:
            _key_error(key)
        value = self._map().get(key, ABSENT)
        if value is ABSENT:
            raise KeyError(key)
        result: _T = value
        return result

    def __contains__(self, key: object, /) -> bool:
        if type(key) is not ContextVar:
            _key_error(key)
        return self._map().get(key, ABSENT) is not ABSENT

    @overload
    def get(self, key: ContextVar[_T], default: None = None, /) -> _T | None: ...
    @overload
    def get(self, key: ContextVar[_T], default: _T, /) -> _T: ...
    @overload
    def get(self, key: ContextVar[_T], default: _D, /) -> _T | _D: ...
    def get(self, key: ContextVar[Any], default: Any = None, /) -> Any:
        """Return the variable's value in this context, or *default*."""
        if type(key) is not ContextVar:
            _key_error(key)
        return self._map().get(key, default)

    def __iter__(self) -> Iterator[ContextVar[Any]]:
        return iter(self._map())

    def __len__(self) -> int:
        return len(self._map())

    def keys(self) -> KeysView[ContextVar[Any]]:
        """Return a view of the variables that have a value in this context now."""
        return KeysView(_Snapshot(self._map()))

    def values(self) -> ValuesView[Any]:
        """Return a view of the values of the variables in this context now."""
        return _ValuesView(self._map())

    def items(self) -> ItemsView[ContextVar[Any], Any]:
        """Return a view of the ``(variable, value)`` pairs of this context now."""
        return _ItemsView(self._map())

    def __eq__(self, other: object, /) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return map_equal(self._map(), other._map())

    def __ne__(self, other: object, /) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return not map_equal(self._map(), other._map())

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)

    def __copy__(self) -> NoReturn:
        _refuse_pickle(self)

    def __deepcopy__(self, memo: object) -> NoReturn:
        _refuse_pickle(self)


collections.abc.Mapping.register(Context)

# The fastest way to make an instance: the type's own call, past the metaclass __call__
# that refuses (Token) or checks (Context) the public one. Neither class has a
# __new__ or __init__ of its own, so this is a bare allocation.
_type_call: Any = type.__call__
_alloc_token: Callable[[], Token[Any]] = _type_call.__get__(Token)
_alloc_context: Callable[[], Context] = _type_call.__get__(Context)


def copy_context() -> Context:
    """Return a copy of the current context (O(1), whatever the number of variables)."""
    ctx: Context = _alloc_context()
    ctx._native = native_copy_context()
    return ctx
