"""Named POSIX shared-memory segments, and a fixed-length list stored in one.

:class:`SharedMemory` opens (or creates) a segment through ``shm_open(3)`` (reached only
through :mod:`._native`) and maps it; :class:`ShareableList` lays a list of plain values
out in a segment, in the stdlib's layout, so that either end may be a stdlib process.

Beyond the stdlib: a segment this module creates has its pages reserved at creation
(``posix_fallocate``), so that a full ``/dev/shm`` is an ``OSError(ENOSPC)`` raised by the
constructor, not a SIGBUS at the first write that finds no page (gh-114389).
``SharedMemory(..., reserve=False)`` opts out (creation then costs no page allocation).
"""

# Imports inside functions are deliberate: a spawned child imports this package and must
# not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import errno
import os
import struct
import sys
import types
from functools import partial

from . import _native

# Annotations only: importing typing would cost a spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

__all__ = ["ShareableList", "SharedMemory"]

#: Every segment name this module makes starts with this (the stdlib's prefix: POSIX
#: wants a leading slash, and stdlib tools recognise the rest).
_SHM_NAME_PREFIX = "/psm_"
#: The longest name some systems (macOS) accept, prefix included.
_SHM_SAFE_NAME_LENGTH = 14
_USE_POSIX = True
_O_CREX = os.O_CREAT | os.O_EXCL
_PUBLIC_MODULE = __name__.rpartition(".")[0] + ".shared_memory"

# posix_fallocate answers these when the file system cannot reserve space at all (the
# segment then works as without the reservation); any other error is the caller's.
_CANNOT_RESERVE = frozenset({errno.EINVAL, errno.EOPNOTSUPP, errno.ENOSYS})


def _make_filename() -> str:
    """Return a fresh random segment name (leading slash included)."""
    import secrets

    random_part = secrets.token_hex((_SHM_SAFE_NAME_LENGTH - len(_SHM_NAME_PREFIX)) // 2)
    return _SHM_NAME_PREFIX + random_part


def _name_maker() -> Any:
    # The public module's attribute, looked up at each use: code (CPython's tests among
    # it) replaces `shared_memory._make_filename` there to choose the names made.
    public = sys.modules.get(_PUBLIC_MODULE)
    return getattr(public, "_make_filename", _make_filename)


def _nul_free(name: str) -> str:
    if "\0" in name:
        raise ValueError(f"name must not contain NUL characters: {name!r}")
    return name


def _reserve(fd: int, size: int) -> None:
    """Allocate the pages of *fd*'s first *size* bytes now (ENOSPC here, not SIGBUS later)."""
    fallocate = getattr(os, "posix_fallocate", None)
    if fallocate is None:  # pragma: no cover - macOS: nothing to reserve with
        return
    try:
        fallocate(fd, 0, size)
    except OSError as exc:
        if exc.errno not in _CANNOT_RESERVE:
            raise


_loaded: dict[str, Any] = {}


def _tracker() -> Any:
    # Imported on first use (a child that never makes a segment does without it), then
    # kept: every tracked create and unlink reaches it.
    found = _loaded.get("tracker")
    if found is None:
        from . import _tracker as found

        _loaded["tracker"] = found
    return found


class SharedMemory:
    """A named block of memory that processes share, mapped into this process.

    ``SharedMemory(name=None, create=False, size=0, *, track=True, reserve=True)``:
    with *create* a new segment of *size* bytes (> 0) is made, named *name* or a fresh
    random name; otherwise the existing segment *name* is attached (*size* is then
    ignored). :attr:`buf` is a memoryview of its contents. :meth:`close` ends this
    process's access; :meth:`unlink` (once, in one process) removes the segment.

    *track* (default True): register the segment with the resource tracker, which
    removes it if every process of the tree ends without :meth:`unlink`. Pass False when
    another process owns the segment's lifetime.

    *reserve* (treadle only, default True): when creating, allocate every page at once,
    so that a full ``/dev/shm`` is an ``OSError(ENOSPC)`` here and not a SIGBUS later.
    """

    # Class-level defaults: close() and unlink() work on a half-made instance.
    _name: str | None = None
    _fd = -1
    _mmap: Any = None
    _buf: memoryview | None = None
    _size = 0
    _track = True
    _flags = os.O_RDWR
    _mode = 0o600  # private to the user who made it
    _prepend_leading_slash = True

    def __init__(
        self,
        name: str | None = None,
        create: bool = False,
        size: int = 0,
        *,
        track: bool = True,
        reserve: bool = True,
    ) -> None:
        """Create or attach the segment (see the class's documentation)."""
        import operator

        try:
            size = operator.index(size)
        except TypeError:
            raise TypeError(f"size must be an integer, not {type(size).__name__}") from None
        if size < 0:
            raise ValueError(f"size must be a positive integer, got {size}")
        if create and size == 0:
            raise ValueError("size must be a positive number different from zero")
        if name is None and not create:
            raise ValueError("name can only be None if create=True")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a str or None, not {type(name).__name__}")
        self._track = bool(track)
        if create:
            self._flags = _O_CREX | os.O_RDWR
        if name is None:
            self._open_fresh()
        else:
            self._open_named("/" + _nul_free(name))
        try:
            if create:
                os.ftruncate(self._fd, size)
                if reserve:
                    _reserve(self._fd, size)
            import mmap

            self._size = os.fstat(self._fd).st_size
            self._mmap = mmap.mmap(self._fd, self._size)
        except BaseException:
            self._abandon(created=create)
            raise
        self._buf = memoryview(self._mmap)

    def _open_fresh(self) -> None:
        make = _name_maker()
        while True:
            candidate = make()
            try:
                self._fd = _native.shm_open(candidate, self._flags, self._mode)
            except FileExistsError:
                continue  # a name already taken: draw another
            self._adopt_name(candidate)
            return

    def _open_named(self, path: str) -> None:
        self._fd = _native.shm_open(path, self._flags, self._mode)
        self._adopt_name(path)

    def _adopt_name(self, path: str) -> None:
        self._name = path
        if self._track:
            # At once, before anything can fail or the process be killed: the tracker
            # then removes a created segment whatever happens next.
            _tracker().register(path, "shared_memory")

    def _abandon(self, *, created: bool) -> None:
        # Undo a half-made segment: close it and, if this call created it, remove it.
        self.close()
        if created and self._name is not None:
            try:
                self.unlink()
            except OSError:
                pass
        elif self._track and self._name is not None:
            _tracker().unregister(self._name, "shared_memory")

    def __del__(self) -> None:
        try:
            self.close()
        except (OSError, BufferError):
            pass

    def __reduce__(self) -> tuple[Any, ...]:
        # Another process attaches the same segment by name.
        return type(self), (self.name, False, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, size={self.size})"

    @property
    def buf(self) -> memoryview:
        """A memoryview of the segment's contents (None once closed)."""
        return self._buf  # type: ignore[return-value]

    @property
    def name(self) -> str:
        """The segment's name, as given to the constructor (no leading slash)."""
        stored = self._name or ""
        if self._prepend_leading_slash and stored.startswith("/"):
            return stored[1:]
        return stored

    @property
    def size(self) -> int:
        """The segment's size in bytes (a creator's *size*, or what the segment has)."""
        return self._size

    def close(self) -> None:
        """End this instance's access to the segment; the segment itself stays.

        BufferError if views of :attr:`buf` (slices, ctypes objects) are still alive.
        """
        view, mapping = self._buf, self._mmap
        if view is not None:
            view.release()
        self._buf = None
        if mapping is not None:
            # BufferError while slices of buf (or ctypes objects over it) are alive: the
            # mapping and the descriptor stay, for a later close() to end.
            mapping.close()
        self._mmap = None
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def unlink(self) -> None:
        """Remove the segment's name (once, by one process); mappings stay valid.

        FileNotFoundError if it was already removed.
        """
        if not self._name:
            return
        _native.shm_unlink(_nul_free(self._name))
        if self._track:
            _tracker().unregister(self._name, "shared_memory")


# ---------------------------------------------------------------------------------------
# ShareableList. The segment holds, in order (all integers native 64-bit):
#   the item count N; N + 1 offsets of the items' slots from the data area's start;
#   the data area; N struct formats, 8 bytes each; N one-byte decoding codes.
# A str or bytes slot is sized from its first value, in whole 8-byte words with at least
# one NUL to spare; every other value takes one word.

_encoding = "utf8"
_WORD = 8

# Decoding codes: how the unpacked value becomes the stored one.
_AS_IS, _AS_STR, _AS_BYTES, _AS_NONE = 0, 1, 2, 3

# The fixed formats (str and bytes have "<slot size>s"). Each fills one word.
_FIXED_FORMATS: dict[type, tuple[str, int]] = {
    int: ("q", _AS_IS),
    float: ("d", _AS_IS),
    bool: ("xxxxxxx?", _AS_IS),
    type(None): ("xxxxxx?x", _AS_NONE),
}


def _decode(code: int, raw: Any) -> Any:
    if code == _AS_IS:
        return raw
    if code == _AS_NONE:
        return None
    text = raw.rstrip(b"\0")  # the padding of the slot (3.14 strips it from bytes too)
    return text.decode(_encoding) if code == _AS_STR else text


def _describe(value: object) -> tuple[str, int, Any]:
    """Return (format, decoding code, what struct packs) for *value*; no slot size yet."""
    kind = type(value)
    if kind is str:
        return "s", _AS_STR, value.encode(_encoding)  # type: ignore[attr-defined]
    if kind is bytes:
        return "s", _AS_BYTES, value
    fixed = _FIXED_FORMATS.get(kind)
    if fixed is None:
        raise TypeError(
            f"ShareableList items must be int, float, bool, str, bytes or None, not {kind.__name__}"
        )
    return fixed[0], fixed[1], (False if value is None else value)


def _slot_size(value: str | bytes, packed: bytes) -> int:
    # 3.14's size: the value's length (in characters, for a str) rounded up to whole
    # words with a byte to spare. A str whose UTF-8 form is longer than that gets room
    # for all of it, where 3.14 would cut it short.
    size = _WORD * (len(value) // _WORD + 1)
    if len(packed) > size:
        size = -(-len(packed) // _WORD) * _WORD
    return size


class ShareableList:
    """A list of int, float, bool, str, bytes and None values in a shared segment.

    ``ShareableList(sequence=None, *, name=None)``: with a *sequence* (or no *name*) a
    new segment is created (named *name* if given) holding its items; with only *name*
    the existing list in that segment is attached. Its length never changes; an item may
    be replaced by one of another type, and a str or bytes item by one that fits its
    slot (the first value's length rounded up to 8 bytes, with room for one NUL).
    Trailing NUL bytes of str and bytes values are not kept (as in the stdlib).
    """

    shm: SharedMemory
    _list_len: int
    _allocated_offsets: list[int]

    def __init__(self, sequence: Iterable[Any] | None = None, *, name: str | None = None):
        """Create a list in a new segment, or attach the one in segment *name*."""
        if sequence is None and name is not None:
            self.shm = SharedMemory(name)
            self._list_len = len(self)
            self._allocated_offsets = list(
                struct.unpack_from("q" * (self._list_len + 1), self.shm.buf, _WORD)
            )
            return
        values = list(sequence) if sequence is not None else []
        items = [_describe(value) for value in values]
        formats: list[str] = []
        offsets = [0]
        for value, (kind, _code, packed) in zip(values, items, strict=True):
            fmt = f"{_slot_size(value, packed)}s" if kind == "s" else kind
            formats.append(fmt)
            offsets.append(offsets[-1] + (int(fmt[:-1]) if fmt[-1] == "s" else _WORD))
        count = len(items)
        total = _WORD * (count + 2) + offsets[-1] + count * _WORD + count
        self.shm = SharedMemory(name, create=True, size=total)
        self._list_len = count
        self._allocated_offsets = offsets
        try:
            buf = self.shm.buf
            struct.pack_into(f"{count + 2}q", buf, 0, count, *offsets)
            start = self._offset_data_start
            for index, (fmt, (_f, code, packed)) in enumerate(zip(formats, items, strict=True)):
                struct.pack_into(fmt, buf, start + offsets[index], packed)
                self._write_meta(index, fmt, code)
        except BaseException:
            # A value struct refuses (an int beyond 64 bits): the new segment goes too.
            self.shm.close()
            self.shm.unlink()
            raise

    # Where the parts of the segment start.
    @property
    def _offset_data_start(self) -> int:
        return _WORD * (self._list_len + 2)

    @property
    def _offset_packing_formats(self) -> int:
        return self._offset_data_start + self._allocated_offsets[-1]

    @property
    def _offset_back_transform_codes(self) -> int:
        return self._offset_packing_formats + _WORD * self._list_len

    def _write_meta(self, index: int, fmt: str, code: int) -> None:
        buf = self.shm.buf
        struct.pack_into("8s", buf, self._offset_packing_formats + _WORD * index, fmt.encode())
        struct.pack_into("b", buf, self._offset_back_transform_codes + index, code)

    def _position(self, position: Any, what: str) -> int:
        if isinstance(position, slice):
            raise TypeError("ShareableList does not support slicing")
        import operator

        index = operator.index(position)
        if index < 0:
            index += self._list_len
        if not 0 <= index < self._list_len:
            raise IndexError(f"{what} out of range")
        return index

    def _get_packing_format(self, position: int) -> str:
        """Return the struct format of the item at *position*."""
        index = self._position(position, "Requested position")
        raw = struct.unpack_from("8s", self.shm.buf, self._offset_packing_formats + _WORD * index)
        return str(raw[0].rstrip(b"\0").decode(_encoding))

    def _item(self, index: int) -> Any:
        buf = self.shm.buf
        fmt = self._get_packing_format(index)
        (raw,) = struct.unpack_from(
            fmt, buf, self._offset_data_start + self._allocated_offsets[index]
        )
        (code,) = struct.unpack_from("b", buf, self._offset_back_transform_codes + index)
        return _decode(code, raw)

    def __getitem__(self, position: int) -> Any:
        return self._item(self._position(position, "index"))

    def __setitem__(self, position: int, value: Any) -> None:
        index = self._position(position, "assignment index")
        fmt, code, packed = _describe(value)
        if fmt == "s":
            room = self._allocated_offsets[index + 1] - self._allocated_offsets[index]
            if len(packed) > room:
                raise ValueError("bytes/str item exceeds available storage")
            current = self._get_packing_format(index)
            fmt = current if current.endswith("s") else f"{room}s"
        offset = self._offset_data_start + self._allocated_offsets[index]
        self._write_meta(index, fmt, code)
        struct.pack_into(fmt, self.shm.buf, offset, packed)

    def __iter__(self) -> Iterator[Any]:
        for index in range(self._list_len):
            yield self._item(index)

    def __reduce__(self) -> tuple[Any, ...]:
        # Another process attaches the same segment by name (a pickle of fixed size).
        return partial(type(self), name=self.shm.name), ()

    def __len__(self) -> int:
        return int(struct.unpack_from("q", self.shm.buf, 0)[0])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)}, name={self.shm.name!r})"

    @property
    def format(self) -> str:
        """The struct formats of every item, joined."""
        return "".join(self._get_packing_format(index) for index in range(self._list_len))

    def count(self, value: Any) -> int:
        """Return how many items equal *value*."""
        return sum(1 for item in self if item == value)

    def index(self, value: Any) -> int:
        """Return the position of the first item equal to *value*; ValueError if none."""
        for position, item in enumerate(self):
            if item == value:
                return position
        raise ValueError(f"{value!r} is not in the ShareableList")

    if not TYPE_CHECKING:
        __class_getitem__ = classmethod(types.GenericAlias)
