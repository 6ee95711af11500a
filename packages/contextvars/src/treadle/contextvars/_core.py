"""ContextVar, Token, Context and copy_context.

Where the values live: each treadle :class:`ContextVar` owns an interpreter context
variable and keeps its values there, in the interpreter's current context. ``get``,
``set`` and ``reset`` are the interpreter's own, with a Python call around them. A
treadle :class:`Context` wraps an interpreter context; ``Context.run`` enters it with the
interpreter's ``run``, so entering, leaving, copying and the "already entered" check are
the interpreter's, and asyncio, ``to_thread`` and new threads treat treadle's variables
exactly as they treat the stdlib's. The interpreter variable's name is a :class:`_Name`
that leads back to the treadle variable: that is how a context lists treadle's variables
(and only those) without a registry that would keep variables alive.
"""

from __future__ import annotations

import collections.abc
import reprlib
from collections.abc import Callable, ItemsView, Iterator, KeysView, ValuesView
from types import GenericAlias, TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar, final, overload

from ._native import (
    NATIVE_MISSING,
    NativeContext,
    NativeContextVar,
    NativeToken,
    native_copy_context,
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
_ABSENT: Any = object()  # "no value" in lookups where None is a value


class _NoDefault:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no default>"


_NO_DEFAULT: Any = _NoDefault()


def _no_subclass(cls: type) -> NoReturn:
    base = cls.__mro__[1]
    raise TypeError(f"type '{_MODULE}.{base.__name__}' is not an acceptable base type")


def _refuse_pickle(obj: object) -> NoReturn:
    raise TypeError(f"cannot pickle '{_MODULE}.{type(obj).__name__}' object")


class _NoPickle:
    """Refuses pickling and copying, as the stdlib's C types do."""

    __slots__ = ()

    def __reduce__(self) -> NoReturn:
        _refuse_pickle(self)

    def __copy__(self) -> NoReturn:
        _refuse_pickle(self)

    def __deepcopy__(self, memo: object) -> NoReturn:
        _refuse_pickle(self)


def _key_error(key: object) -> NoReturn:
    raise TypeError(f"a ContextVar key was expected, got {key!r}")


def _not_a_token(token: object) -> NoReturn:
    kind = type(token)
    got = "the stdlib's contextvars.Token" if kind is NativeToken else kind.__name__
    raise TypeError(f"ContextVar.reset() argument 'token' must be a {_MODULE}.Token, not {got}")


_is_callable = callable  # Context.run's argument is named "callable", as in the stdlib


class _Name(str):
    """The name of a treadle variable's interpreter variable; ``.var`` is the treadle one.

    A ``str`` subclass because the interpreter only accepts a ``str`` name, and keeps it as
    given. The interpreter context holds the interpreter variable, which holds this name,
    which holds the treadle variable: exactly as long as in the stdlib.
    """

    var: ContextVar[Any]


def _treadle_var(native_var: Any) -> ContextVar[Any] | None:
    """Return the treadle variable behind an interpreter variable (None for a stdlib one)."""
    name = native_var.name
    return name.var if type(name) is _Name else None


@final
class ContextVar(_Generic[_T], _NoPickle):
    """A context variable: a value per context, as ``contextvars.ContextVar``.

    ``ContextVar(name, *, default=...)``. Create variables at module level, never in
    closures: a context keeps a strong reference to every variable set in it.
    """

    __slots__ = ("_default", "_name", "_native", "_nget", "_nreset", "_nset")

    _name: str
    _default: Any
    _native: NativeContextVar[Any]
    # The interpreter variable's methods, bound once: they are the whole hot path.
    _nget: Callable[..., Any]
    _nset: Callable[[Any], NativeToken[Any]]
    _nreset: Callable[[NativeToken[Any]], None]

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
        label = _Name(name)
        label.var = self
        if default is _NO_DEFAULT:
            native: NativeContextVar[Any] = NativeContextVar(label)
        else:
            native = NativeContextVar(label, default=default)
        self._native = native
        self._nget = native.get
        self._nset = native.set
        self._nreset = native.reset
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
    def get(self, *default: Any) -> Any:
        """Return the variable's value in the current context.

        Without a value in the context, return *default* if given, else the variable's
        default, else raise :exc:`LookupError`.
        """
        try:
            return self._nget(*default)
        except LookupError:
            raise LookupError(self) from None
        except TypeError:
            raise TypeError(f"get expected at most 1 argument, got {len(default)}") from None

    def set(self, value: _T, /) -> Token[_T]:
        """Set the variable's value in the current context; return a :class:`Token`.

        The token restores the previous value with :meth:`reset`, or as a context
        manager: ``with var.set(value): ...`` (3.14 behaviour, on every version).
        """
        token: Token[_T] = _alloc_token()
        token._native = self._nset(value)
        token._var = self
        return token

    def reset(self, token: Token[_T], /) -> None:
        """Restore the value the variable had before the ``set`` that made *token*.

        Raises :exc:`RuntimeError` if the token was already used, :exc:`ValueError` if it
        was made by another variable or in another context.
        """
        if type(token) is not Token:
            _not_a_token(token)
        if token._var is not self:
            if token._is_used():  # the stdlib checks "used" first
                raise RuntimeError(f"{token!r} has already been used once")
            raise ValueError(f"{token!r} was created by a different ContextVar")
        # The interpreter checks that the token is unused and that this is the context it
        # was made in, and puts the old value back.
        try:
            self._nreset(token._native)
        except ValueError:
            raise ValueError(f"{token!r} was created in a different Context") from None
        except RuntimeError:
            raise RuntimeError(f"{token!r} has already been used once") from None
        token._used = True

    def __repr__(self) -> str:
        return self._repr()

    @reprlib.recursive_repr()
    def _repr(self) -> str:
        default = "" if self._default is _NO_DEFAULT else f" default={self._default!r}"
        return f"<ContextVar name={self._name!r}{default} at 0x{id(self):x}>"


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
class Token(_Generic[_T], _NoPickle, metaclass=_TokenMeta):
    """What :meth:`ContextVar.set` returns: it can undo that set, once.

    ``var.reset(token)`` or, as in 3.14, ``with var.set(value): ...``.
    """

    # ``_used`` is set by a successful reset only: set() does not pay for it.
    __slots__ = ("_native", "_used", "_var")

    MISSING: ClassVar[object] = _MISSING
    """The marker :attr:`old_value` holds when the variable had no value before."""

    __hash__ = None  # type: ignore[assignment]  # unhashable, as in the stdlib

    _var: ContextVar[_T]
    _native: NativeToken[Any]
    _used: bool

    def __init_subclass__(cls, **kwargs: object) -> NoReturn:
        _no_subclass(cls)

    @property
    def var(self) -> ContextVar[_T]:
        """The variable that made this token."""
        return self._var

    @property
    def old_value(self) -> Any:
        """The variable's value before the set, or :attr:`Token.MISSING`."""
        value = self._native.old_value
        return _MISSING if value is NATIVE_MISSING else value

    def _is_used(self) -> bool:
        used: bool = getattr(self, "_used", False)
        return used

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
        used = " used" if self._is_used() else ""
        return f"<Token{used} var={self._var!r} at 0x{id(self):x}>"


def _lookup(native: NativeContext, key: Any) -> Any:
    """Return the value of treadle variable *key* in *native*, or ``_ABSENT``."""
    if type(key) is not ContextVar:
        _key_error(key)
    return native.get(key._native, _ABSENT)


def _variables(native: NativeContext) -> Iterator[ContextVar[Any]]:
    for native_var in native:
        var = _treadle_var(native_var)
        if var is not None:
            yield var


def _items(native: NativeContext) -> Iterator[tuple[ContextVar[Any], Any]]:
    for native_var, value in native.items():
        var = _treadle_var(native_var)
        if var is not None:
            yield var, value


def _count(native: NativeContext) -> int:
    return sum(1 for _ in _variables(native))


class _Snapshot(collections.abc.Mapping[Any, Any]):
    """A read-only Mapping over a private copy of a context, for keys(), values(), items().

    Nobody enters the copy, so it never changes: the views show the context as it was.
    """

    __slots__ = ("_native",)

    def __init__(self, native: NativeContext) -> None:
        self._native = native.copy()

    def __getitem__(self, key: Any) -> Any:
        value = _lookup(self._native, key) if type(key) is ContextVar else _ABSENT
        if value is _ABSENT:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[Any]:
        return _variables(self._native)

    def __len__(self) -> int:
        return _count(self._native)


class _ItemsView(ItemsView[Any, Any]):
    __slots__ = ()
    _mapping: _Snapshot

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return _items(self._mapping._native)


class _ValuesView(ValuesView[Any]):
    __slots__ = ()
    _mapping: _Snapshot

    def __iter__(self) -> Iterator[Any]:
        return (value for _, value in _items(self._mapping._native))


@final
class Context(_NoPickle, _MappingBase, metaclass=_ContextMeta):
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

    def run(self, callable: Callable[_P, _R], /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        """Run ``callable(*args, **kwargs)`` in this context; return its result.

        Changes the callable makes to context variables stay in this context. Raises
        :exc:`RuntimeError` if the context is already entered, in any thread.
        """
        if not _is_callable(callable):
            raise TypeError(
                f"Context.run() argument 'callable' must be callable, not {type(callable).__name__}"
            )
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
        value = _lookup(self._native, key)
        if value is _ABSENT:
            raise KeyError(key)
        result: _T = value
        return result

    def __contains__(self, key: object, /) -> bool:
        return _lookup(self._native, key) is not _ABSENT

    @overload
    def get(self, key: ContextVar[_T], default: None = None, /) -> _T | None: ...
    @overload
    def get(self, key: ContextVar[_T], default: _T, /) -> _T: ...
    @overload
    def get(self, key: ContextVar[_T], default: _D, /) -> _T | _D: ...
    def get(self, key: ContextVar[Any], default: Any = None, /) -> Any:
        """Return the variable's value in this context, or *default*."""
        value = _lookup(self._native, key)
        return default if value is _ABSENT else value

    def __iter__(self) -> Iterator[ContextVar[Any]]:
        return _variables(self._native)

    def __len__(self) -> int:
        # O(n) in the context's variables, the stdlib's included: only treadle's count.
        return _count(self._native)

    def keys(self) -> KeysView[ContextVar[Any]]:
        """Return a view of the variables that have a value in this context now."""
        return KeysView(_Snapshot(self._native))

    def values(self) -> ValuesView[Any]:
        """Return a view of the values of the variables in this context now."""
        return _ValuesView(_Snapshot(self._native))

    def items(self) -> ItemsView[ContextVar[Any], Any]:
        """Return a view of the ``(variable, value)`` pairs of this context now."""
        return _ItemsView(_Snapshot(self._native))

    def __eq__(self, other: object, /) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return dict(_items(self._native)) == dict(_items(other._native))

    def __ne__(self, other: object, /) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return dict(_items(self._native)) != dict(_items(other._native))


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
