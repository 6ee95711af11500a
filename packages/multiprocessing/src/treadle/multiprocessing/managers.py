"""treadle.multiprocessing.managers: objects shared through a server process (3.14's API).

:class:`BaseManager` starts a server (or connects to one) and makes proxies of the
objects it shares; :class:`SyncManager` (what ``multiprocessing.Manager()`` starts)
shares queues, locks, events, barriers, values, lists, dicts, sets and pools;
:class:`SharedMemoryManager` frees its shared-memory segments when it shuts down.

The protocol on the wire is the stdlib's: a stdlib manager of Python 3.10-3.14 connects
to a treadle server, and a treadle manager to a stdlib server.
"""

from ._managers import AutoProxy as AutoProxy  # noqa: PLC0414 - outside the stdlib's __all__ too
from ._managers import (
    BaseManager,
    BaseProxy,
    ProcessLocalSet,
    RemoteError,
    Server,
    Token,
    view_types,
)
from ._managers import MakeProxyType as MakeProxyType  # noqa: PLC0414
from ._managers import RebuildProxy as RebuildProxy  # noqa: PLC0414
from ._managers import State as State  # noqa: PLC0414
from ._managers import all_methods as all_methods  # noqa: PLC0414
from ._managers import convert_to_error as convert_to_error  # noqa: PLC0414
from ._managers import dispatch as dispatch  # noqa: PLC0414
from ._managers import public_methods as public_methods  # noqa: PLC0414
from ._managers_shm import SharedMemoryManager, SharedMemoryServer
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
    SyncManager,
    Value,
    ValueProxy,
)
from ._managers_wire import listener_client as listener_client  # noqa: PLC0414
from ._native import publish as _publish

__all__ = [
    "AcquirerProxy",
    "Array",
    "ArrayProxy",
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
    "Namespace",
    "NamespaceProxy",
    "PoolProxy",
    "ProcessLocalSet",
    "RemoteError",
    "Server",
    "SetProxy",
    "SharedMemoryManager",
    "SharedMemoryServer",
    "SyncManager",
    "Token",
    "Value",
    "ValueProxy",
    "view_types",
]

_publish(globals())

# The stdlib's other module-level helpers (outside its __all__) also report this module:
# proxies pickle as RebuildProxy(AutoProxy, ...), by these names.
AutoProxy.__module__ = MakeProxyType.__module__ = RebuildProxy.__module__ = __name__
all_methods.__module__ = public_methods.__module__ = __name__
convert_to_error.__module__ = dispatch.__module__ = State.__module__ = __name__
