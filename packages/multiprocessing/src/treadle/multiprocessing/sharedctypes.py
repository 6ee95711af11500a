"""treadle.multiprocessing.sharedctypes: ctypes objects in shared memory.

``RawValue``/``RawArray`` make them; ``Value``/``Array`` add a lock (``lock=True``, the
default, makes a recursive one; ``lock=False`` returns the raw object; or pass a lock);
``synchronized`` wraps an object, ``copy`` duplicates one.
"""

from ._native import publish as _publish
from ._sharedctypes import (
    Array,
    RawArray,
    RawValue,
    Synchronized,
    SynchronizedArray,
    SynchronizedBase,
    SynchronizedString,
    Value,
    copy,
    make_property,
    rebuild_ctype,
    reduce_ctype,
    synchronized,
    typecode_to_type,  # noqa: F401 - the stdlib's module attribute, not in its __all__
)

__all__ = [
    "Array",
    "RawArray",
    "RawValue",
    "Synchronized",
    "SynchronizedArray",
    "SynchronizedBase",
    "SynchronizedString",
    "Value",
    "copy",
    "make_property",
    "rebuild_ctype",
    "reduce_ctype",
    "synchronized",
]

_publish(globals())
