"""treadle.multiprocessing.shared_memory: named shared-memory segments and ShareableList.

Beyond the stdlib: ``SharedMemory(..., create=True)`` reserves the segment's pages at
once, so a full ``/dev/shm`` raises ``OSError(ENOSPC)`` there instead of a SIGBUS at a
later write; ``reserve=False`` opts out.
"""

from ._native import publish as _publish

# The private names CPython's tests reach (the name maker they replace, the prefix).
from ._shared_memory import (  # noqa: F401
    _O_CREX,
    _SHM_NAME_PREFIX,
    _SHM_SAFE_NAME_LENGTH,
    _USE_POSIX,
    ShareableList,
    SharedMemory,
    _encoding,
    _make_filename,
)

__all__ = ["ShareableList", "SharedMemory"]

_publish(globals())
