"""The managers' wire: the messages a manager's clients and server exchange.

After the HMAC handshake a client sends ``(ident, name, args, kwargs)`` tuples (``ident``
None addresses the server itself); replies are ``(kind, value)`` with the stdlib's kinds
``#RETURN``, ``#ERROR``, ``#TRACEBACK``, ``#UNSERIALIZABLE`` and ``#PROXY``. Proxies
travel inside messages by the stdlib's names where a stdlib peer may read them; treadle
maps those names back to its own classes when it reads (:func:`_peer_loads`).
"""

# ruff: noqa: PLC0415 - imports inside functions are deliberate (spawned children)

from __future__ import annotations

import threading

from . import _connection, _reduction
from ._util import register_after_fork

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = [
    "ProcessLocalSet",
    "RemoteError",
    "State",
    "Token",
    "all_methods",
    "convert_to_error",
    "dispatch",
    "listener_client",
    "public_methods",
    "view_types",
]

# Serializers: the listener and client of each (the stdlib's two names).
listener_client: dict[str, tuple[Any, Any]] = {
    "pickle": (_connection.Listener, _connection.Client),
    "xmlrpclib": (_connection.XmlListener, _connection.XmlClient),
}


def _transport(serializer: object) -> tuple[Any, Any]:
    found = listener_client.get(serializer) if isinstance(serializer, str) else None
    if found is None:
        raise ValueError(f"serializer must be one of {sorted(listener_client)}, not {serializer!r}")
    return found


# The dict views, which travel as lists (see _managers_sync).
view_types: list[type] = [type({}.items()), type({}.keys()), type({}.values())]


class ProcessLocalSet(set):  # type: ignore[type-arg]
    """A set that a child started with fork finds empty, and that pickles empty."""

    def __init__(self) -> None:
        register_after_fork(self, ProcessLocalSet.clear)

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return type(self), ()


class Token:
    """Names a shared object: its type id, its server's address, its id there."""

    __slots__ = ("address", "id", "typeid")

    def __init__(self, typeid: str, address: Any, id: str) -> None:
        self.typeid = typeid
        self.address = address
        self.id = id

    def __getstate__(self) -> tuple[str, Any, str]:
        return (self.typeid, self.address, self.id)

    def __setstate__(self, state: tuple[str, Any, str]) -> None:
        self.typeid, self.address, self.id = state

    def __repr__(self) -> str:
        fields = f"typeid={self.typeid!r}, address={self.address!r}, id={self.id!r}"
        return f"{type(self).__name__}({fields})"


def _as_token(found: Any) -> Token:
    # A stdlib server sends its own Token class (or anything with the three fields).
    if isinstance(found, Token):
        return found
    return Token(found.typeid, _address_of(found.address), found.id)


def _address_of(address: Any) -> Any:
    # XML-RPC turns a (host, port) tuple into a list: addresses must stay hashable.
    return tuple(address) if isinstance(address, list) else address


class RemoteError(Exception):
    """A failure in the manager's server; ``args[0]`` is the server's traceback text."""

    def __str__(self) -> str:
        rule = "-" * 75
        return f"\n{rule}\n{self.args[0]}{rule}"


def convert_to_error(kind: str, result: Any) -> Exception:
    """Return the exception a reply of *kind* carrying *result* stands for."""
    if kind == "#ERROR":
        if isinstance(result, BaseException):
            return result  # type: ignore[return-value]
        return RemoteError(f"server error of an unmarshallable kind: {result!r}\n")
    if kind in ("#TRACEBACK", "#UNSERIALIZABLE"):
        if not isinstance(result, str):
            return TypeError(f"Result {result!r} (kind {kind!r}) type is {type(result)}, not str")
        if kind == "#UNSERIALIZABLE":
            return RemoteError(f"Unserializable message: {result}\n")
        return RemoteError(result)
    return ValueError(f"Unrecognized message type {kind!r}")


# Set while this thread pickles a request to a manager server: proxies among the
# arguments then travel by the stdlib's names, which any server can read.
_to_server = threading.local()
# Set while this thread unpickles a server's reply: the key of that server.
_from_server = threading.local()


def _send_request(channel: Any, request: tuple[Any, ...]) -> None:
    _to_server.active = True
    try:
        channel.send(request)
    finally:
        _to_server.active = False


def dispatch(c: Any, id: Any, methodname: str, args: Sequence[Any] = (), kwds: Any = None) -> Any:
    """Send one request on connection *c* and return its result (or raise its error)."""
    _send_request(c, (id, methodname, tuple(args), {} if kwds is None else kwds))
    kind, result = c.recv()
    if kind == "#RETURN":
        return result
    error = convert_to_error(kind, result)
    # The traceback holds this frame: its locals must not hold the error too, or each
    # failed call leaves a reference cycle for the collector (gh-106558).
    del result
    try:
        raise error
    finally:
        del error


def _one_request(
    client: Any, address: Any, authkey: bytes, name: str, args: Sequence[Any] = ()
) -> Any:
    # Requests to the server itself (create, incref, decref...) each use a connection
    # of their own, as the stdlib's clients do.
    channel = client(address, authkey=authkey)
    try:
        return dispatch(channel, None, name, args)
    finally:
        channel.close()


def all_methods(obj: object) -> list[str]:
    """Return the names of *obj*'s callable attributes."""
    return [name for name in dir(obj) if callable(getattr(obj, name, None))]


def public_methods(obj: object) -> list[str]:
    """Return the names of *obj*'s callable attributes that do not start with ``_``."""
    return [name for name in all_methods(obj) if not name.startswith("_")]


def _portable_error(exc: BaseException) -> BaseException:
    # An exception goes to the client pickled by its class's name. A stdlib peer cannot
    # import treadle's classes: a treadle queue's Empty travels as queue.Empty, a treadle
    # barrier's BrokenBarrierError as threading's (same name, same arguments).
    module = type(exc).__module__
    if module not in ("treadle.queue", "treadle.threading"):
        return exc
    import importlib

    twin = getattr(importlib.import_module(module[len("treadle.") :]), type(exc).__name__, None)
    if isinstance(twin, type) and issubclass(twin, BaseException):
        return twin(*exc.args)
    return exc


class _PickleChannel:
    """A server's end of a pickle connection: requests are read by :func:`_peer_loads`."""

    __slots__ = ("close", "recv_bytes", "send")

    def __init__(self, conn: Any) -> None:
        self.send = conn.send
        self.recv_bytes = conn.recv_bytes
        self.close = conn.close

    def recv(self) -> Any:
        return _peer_loads(self.recv_bytes())


def _peer_loads(data: bytes) -> Any:
    # A stdlib client pickles its proxies (an argument of a call: a proxy put in a
    # shared list) by the stdlib's names. In this server they must become treadle's
    # proxies, which know that their referent lives here: the names are mapped.
    if b"multiprocessing." not in data:
        return _reduction.ForkingPickler.loads(data)
    import io

    return _TwinUnpickler(io.BytesIO(data)).load()


def _twin_finder() -> type:
    import pickle

    class TwinUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module.partition(".")[0] == "multiprocessing":
                import importlib

                try:
                    twin = getattr(importlib.import_module(f"treadle.{module}"), name, None)
                except ImportError:
                    twin = None
                if twin is not None:
                    return twin
            return super().find_class(module, name)

    return TwinUnpickler


class _LazyUnpickler:
    # The pickle module is not imported by spawned children that never serve.
    cls: type | None = None

    def __call__(self, file: Any) -> Any:
        if self.cls is None:
            self.cls = _twin_finder()
        return self.cls(file)


_TwinUnpickler = _LazyUnpickler()


def _traceback_text() -> str:
    import traceback

    return traceback.format_exc()


def _wire_token(typeid: str, address: Any, ident: str) -> Any:
    # A #PROXY reply carries a token; a stdlib client reads its three attributes and
    # cannot import treadle's class: types.SimpleNamespace travels between any two.
    import types

    return types.SimpleNamespace(typeid=typeid, address=address, id=ident)


class State:
    """The state of a manager: ``INITIAL``, ``STARTED`` or ``SHUTDOWN``."""

    __slots__ = ("value",)
    INITIAL = 0
    STARTED = 1
    SHUTDOWN = 2

    def __init__(self) -> None:
        self.value = State.INITIAL
