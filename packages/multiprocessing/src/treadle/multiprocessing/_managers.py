"""Managers: start (or connect to) a server process that owns Python objects.

:class:`BaseManager` here; the wire format in ``_managers_wire``, the server in
``_managers_server``, the proxies in ``_managers_proxy``, ``SyncManager`` and
``SharedMemoryManager`` with their proxy types in ``_managers_sync``. Everything speaks
the stdlib's protocol, so that either end may be a stdlib process of 3.10-3.14.
"""

# Imports inside functions are deliberate: spawned children import this module.
# ruff: noqa: PLC0415

from __future__ import annotations

from . import _connection, _process
from ._errors import ProcessError
from ._managers_proxy import (
    AutoProxy,
    BaseProxy,
    MakeProxyType,
    RebuildProxy,
    _hand_over,
    _proxy_channels,
)
from ._managers_server import Server
from ._managers_wire import (
    ProcessLocalSet,
    RemoteError,
    State,
    Token,
    _address_of,
    _one_request,
    _send_request,
    _transport,
    all_methods,
    convert_to_error,
    dispatch,
    public_methods,
    view_types,
)
from ._util import Finalize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from types import TracebackType
    from typing import Any, ClassVar, TypeVar

    _M = TypeVar("_M", bound="BaseManager")

__all__ = [
    "AutoProxy",
    "BaseManager",
    "BaseProxy",
    "MakeProxyType",
    "ProcessLocalSet",
    "RebuildProxy",
    "RemoteError",
    "Server",
    "State",
    "Token",
    "all_methods",
    "convert_to_error",
    "dispatch",
    "public_methods",
    "view_types",
]


# ---------------------------------------------------------------------------------------
# The manager.


class _Opened:
    """Close a connection (or an XML-RPC wrapper of one) at the end of a ``with``."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def __enter__(self) -> Any:
        return self.channel

    def __exit__(self, *exc: object) -> None:
        self.channel.close()


def _ended(process: Any, timeout: float | None) -> bool:
    process.join(timeout)
    return process.exitcode is not None


def _state_error(state: State) -> ProcessError:
    if state.value == State.STARTED:
        return ProcessError("Already started server")
    if state.value == State.SHUTDOWN:
        return ProcessError("Manager has shut down")
    return ProcessError(f"Unknown state {state.value!r}")


class BaseManager:
    """Starts (or connects to) a server process sharing objects; makes their proxies.

    Register the types it shares with :meth:`register`, then :meth:`start` a server
    (or :meth:`connect` to one started elsewhere). *authkey* defaults to the current
    process's; *serializer* is ``'pickle'`` or ``'xmlrpclib'``; *ctx* is the context
    that starts the server; the server gets *shutdown_timeout* seconds to stop before
    it is terminated.
    """

    _registry: ClassVar[dict[str, tuple[Any, ...]]] = {}
    _Server: type[Server] = Server

    def __init__(
        self,
        address: Any = None,
        authkey: bytes | None = None,
        serializer: str = "pickle",
        ctx: Any = None,
        *,
        shutdown_timeout: float = 1.0,
    ) -> None:
        """Prepare a manager for the server at *address* (a fresh one when None)."""
        if authkey is None:
            authkey = _process.current_process().authkey
        elif not isinstance(authkey, bytes):
            raise TypeError(f"authkey should be a byte string, not {type(authkey).__name__}")
        if not isinstance(shutdown_timeout, (int, float)) or isinstance(shutdown_timeout, bool):
            raise TypeError(f"shutdown_timeout must be a number, not {shutdown_timeout!r}")
        self._Listener, self._Client = _transport(serializer)
        self._address = _address_of(address)
        self._authkey = _process.AuthenticationString(authkey)
        self._state = State()
        self._serializer = serializer
        if ctx is None:
            from ._context import _default_context

            ctx = _default_context.get_context()
        self._ctx = ctx
        self._shutdown_timeout = shutdown_timeout
        self._process: Any = None

    @property
    def address(self) -> Any:
        """The server's address (known once started or connected)."""
        return self._address

    def get_server(self) -> Server:
        """Return a server (not yet serving) for this manager's registered types."""
        if self._state.value != State.INITIAL:
            raise _state_error(self._state)
        return self._Server(self._registry, self._address, self._authkey, self._serializer)

    def connect(self) -> None:
        """Use the server already running at ``address``."""
        # A request that does nothing: the address answers and the key is right.
        _one_request(self._Client, self._address, self._authkey, "dummy")
        self._state.value = State.STARTED

    def start(
        self, initializer: Callable[..., object] | None = None, initargs: Iterable[Any] = ()
    ) -> None:
        """Start the server in a child process (which first calls ``initializer(*initargs)``)."""
        if self._state.value != State.INITIAL:
            raise _state_error(self._state)
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        reader, writer = _connection.Pipe(duplex=False)
        try:
            self._process = self._ctx.Process(
                target=type(self)._run_server,
                args=(
                    self._registry,
                    self._address,
                    self._authkey,
                    self._serializer,
                    writer,
                    initializer,
                    tuple(initargs),
                ),
            )
            ident = ":".join(str(part) for part in self._process._identity)
            self._process.name = f"{type(self).__name__}-{ident}"
            self._process.start()
        except BaseException:
            reader.close()
            writer.close()
            raise
        writer.close()
        try:
            self._address = _address_of(reader.recv())
        except EOFError:
            self._process.join()
            raise ProcessError(
                f"manager server exited with code {self._process.exitcode} before it served"
            ) from None
        finally:
            reader.close()
        self._state.value = State.STARTED
        self.shutdown = Finalize(  # type: ignore[method-assign]
            self,
            type(self)._finalize_manager,
            args=(
                self._process,
                self._address,
                self._authkey,
                self._state,
                self._Client,
                self._shutdown_timeout,
            ),
            exitpriority=0,
        )

    @classmethod
    def _run_server(  # noqa: PLR0917 - the stdlib's signature
        cls,
        registry: dict[str, tuple[Any, ...]],
        address: Any,
        authkey: bytes,
        serializer: str,
        writer: Any,
        initializer: Callable[..., object] | None = None,
        initargs: Sequence[Any] = (),
    ) -> None:
        # The manager's process: Ctrl-C in a terminal reaches the whole process group;
        # the owner shuts the server down, not the signal.
        _ignore_interrupts()
        if initializer is not None:
            initializer(*initargs)
        with _Opened(writer):
            # The owner waits for the address: a server that cannot listen tells it by
            # closing the pipe unanswered (the exception ends this process).
            server = cls._Server(registry, address, authkey, serializer)
            writer.send(server.address)
        server.serve_forever()

    def _create(self, typeid: str, /, *args: Any, **kwds: Any) -> tuple[Token, tuple[str, ...]]:
        request = (None, "create", (typeid, *args), kwds)
        with _Opened(self._Client(self._address, authkey=self._authkey)) as channel:
            _send_request(channel, request)
            kind, result = channel.recv()
        if kind != "#RETURN":
            raise convert_to_error(kind, result)
        return Token(typeid, self._address, result[0]), tuple(result[1])

    def join(self, timeout: float | None = None) -> None:
        """Wait until the server process ends (or *timeout* seconds pass)."""
        server = self._process
        if server is not None and _ended(server, timeout):
            self._process = None

    def _debug_info(self) -> str:
        return str(_one_request(self._Client, self._address, self._authkey, "debug_info"))

    def _number_of_objects(self) -> int:
        return int(_one_request(self._Client, self._address, self._authkey, "number_of_objects"))

    def __enter__(self: _M) -> _M:
        if self._state.value == State.INITIAL:
            self.start()
        if self._state.value != State.STARTED:
            raise ProcessError(f"Unable to start server: {_state_error(self._state)}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        """Stop the server started by :meth:`start` (a no-op before that)."""

    @staticmethod
    def _finalize_manager(
        process: Any,
        address: Any,
        authkey: bytes,
        state: State,
        _Client: Any,
        shutdown_timeout: float,
    ) -> None:
        if process.is_alive():
            try:
                _one_request(_Client, address, authkey, "shutdown")
            except Exception:
                pass
            process.join(timeout=shutdown_timeout)
            if process.is_alive():
                process.terminate()
                process.join(timeout=shutdown_timeout)
                if process.is_alive():
                    process.kill()
                    process.join()
        state.value = State.SHUTDOWN
        _proxy_channels.pop(address, None)

    @classmethod
    def register(  # noqa: PLR0917 - the stdlib's signature
        cls,
        typeid: str,
        callable: Callable[..., Any] | None = None,
        proxytype: Any = None,
        exposed: Sequence[str] | None = None,
        method_to_typeid: dict[str, str] | None = None,
        create_method: bool = True,
    ) -> None:
        """Share objects of *typeid*, made by *callable*, through *proxytype* proxies.

        *exposed* names the methods proxies may call (default: the proxy type's
        ``_exposed_``, else every public method); *method_to_typeid* maps a method to
        the typeid its result is shared as. With *create_method* the manager gets a
        method named *typeid* that makes one and returns its proxy.
        """
        if not isinstance(typeid, str):
            raise TypeError(f"typeid must be a str, not {type(typeid).__name__}")
        if "_registry" not in cls.__dict__:
            cls._registry = dict(cls._registry)
        if proxytype is None:
            proxytype = AutoProxy
        exposed = exposed or getattr(proxytype, "_exposed_", None)
        method_to_typeid = method_to_typeid or getattr(proxytype, "_method_to_typeid_", None)
        if method_to_typeid:
            for key, value in method_to_typeid.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise TypeError(f"method_to_typeid must map str to str, not {key!r}: {value!r}")
        cls._registry[typeid] = (callable, exposed, method_to_typeid, proxytype)
        if create_method:
            setattr(cls, typeid, _maker(typeid, proxytype))


def _ignore_interrupts() -> None:
    # Ctrl-C in a terminal reaches the whole process group: the owner shuts the
    # server down, not the signal.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _maker(typeid: str, proxytype: Any) -> Callable[..., Any]:
    def make(self: BaseManager, /, *args: Any, **kwds: Any) -> Any:
        token, exposed = self._create(typeid, *args, **kwds)
        key = self._authkey
        return _hand_over(proxytype(token, self._serializer, self, key, exposed))

    make.__name__ = typeid
    make.__qualname__ = typeid
    make.__doc__ = f"Make a shared {typeid!r} object in the server and return its proxy."
    return make


def __getattr__(name: str) -> Any:
    # The context's Manager() imports SyncManager from here; it lives in _managers_sync
    # (which imports this module), so it is looked up on first use.
    if name == "SyncManager":
        from ._managers_sync import SyncManager

        return SyncManager
    if name == "SharedMemoryManager":
        from ._managers_shm import SharedMemoryManager

        return SharedMemoryManager
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
