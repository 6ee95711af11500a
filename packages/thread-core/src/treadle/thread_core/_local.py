"""Thread-local data: ``local``, on the interpreter's thread-local storage.

Thread-local storage is one of the primitives Python code cannot match: the interpreter
keeps each thread's attributes beside that thread's own state, finds them without a
lock, and drops them when the thread ends. ``local`` is therefore a thin subclass of the
interpreter's type, adding nothing to the attribute path; what it gives is a public
name and the same behaviour on every version from 3.10.
"""

from __future__ import annotations

from ._native import NativeLocal

__all__ = ["local"]


class local(NativeLocal):
    """Thread-local data: each thread sees its own attributes on the same object.

    ``__dict__`` is the calling thread's own dictionary. Subclass it to give defaults
    or methods: class attributes are shared, instance attributes are per thread, and a
    subclass ``__init__`` runs once in each thread that uses the object, with the
    arguments given to the constructor (without an ``__init__``, arguments are a
    :exc:`TypeError`). Names in a subclass's ``__slots__`` are ordinary slots: one value
    for all threads. A ``local`` cannot be pickled.
    """

    __slots__ = ()
