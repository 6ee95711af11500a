"""treadle.multiprocessing.managers: objects shared through a server process (3.14's API).

:class:`BaseManager` starts a server (or connects to one) and makes proxies of the
objects it shares; :class:`SyncManager` (what ``multiprocessing.Manager()`` starts)
shares queues, locks, events, barriers, values, lists, dicts, sets and pools;
:class:`SharedMemoryManager` frees its shared-memory segments when it shuts down.

The protocol on the wire is the stdlib's: a stdlib manager of Python 3.10-3.14 connects
to a treadle server, and a treadle manager to a stdlib server.
"""

from ._managers import (
    AutoProxy,
    BaseManager,
    BaseProxy,
    MakeProxyType,
    RebuildProxy,
    RemoteError,
    Server,
    State,
    Token,
    all_methods,
    convert_to_error,
    dispatch,
    listener_client,
    public_methods,
)
from ._managers_sync import (
    AcquirerProxy,
    Array,
    ArrayProxy,
    BarrierProxy,
    BaseListProxy,
    BasePoolProxy,
    ConditionProxy,
    DictProxy,
    EventProxy,
    IteratorProxy,
    ListProxy,
    Namespace,
    NamespaceProxy,
    PoolProxy,
    SetProxy,
    SharedMemoryManager,
    SharedMemoryServer,
    SyncManager,
    Value,
    ValueProxy,
)
from ._native import publish as _publish

__all__ = [
    "AcquirerProxy",
    "Array",
    "ArrayProxy",
    "AutoProxy",
    "BarrierProxy",
    "BaseListProxy",
    "BaseManager",
    "BasePoolProxy",
    "BaseProxy",
    "ConditionProxy",
    "DictProxy",
    "EventProxy",
    "IteratorProxy",
    "ListProxy",
    "MakeProxyType",
    "Namespace",
    "NamespaceProxy",
    "PoolProxy",
    "RebuildProxy",
    "RemoteError",
    "Server",
    "SetProxy",
    "SharedMemoryManager",
    "SharedMemoryServer",
    "State",
    "SyncManager",
    "Token",
    "Value",
    "ValueProxy",
    "all_methods",
    "convert_to_error",
    "dispatch",
    "listener_client",
    "public_methods",
]

_publish(globals())
