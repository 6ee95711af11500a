"""The shared heap that sharedctypes objects live in.

An :class:`Arena` is a block of shared memory backed by a descriptor (an anonymous
``memfd`` where the OS has one, else an unlinked file under ``/dev/shm`` or the temp
directory) and mapped shared, so a fork child sees it through the mapping it inherits;
pickled for a spawn or forkserver child (or sent to a running process), it travels as its
descriptor (:func:`._reduction.DupFd`) and the receiver maps the same pages.

:class:`Heap` carves blocks out of arenas: best fit among the free blocks, split on
allocation, merged with free neighbours on release; an arena that becomes entirely free is
given back when it is large. :class:`BufferWrapper` owns one block for as long as it
lives.
"""

# Imports inside functions are deliberate: a spawned child imports this package and must
# not pay for what it does not use.
# ruff: noqa: PLC0415

from __future__ import annotations

import bisect
import itertools
import mmap
import os
import sys
import threading
import weakref

from . import _util

# Annotations only: importing typing would cost a spawned child several ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    # A block: (arena, start, stop), offsets into the arena's buffer.
    Block = tuple["Arena", int, int]

__all__ = ["Arena", "BufferWrapper", "Heap"]

_arena_serials = itertools.count()


def _anonymous_fd(size: int) -> int:
    """Return a descriptor of *size* bytes of fresh shared memory with no name left."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None:
        try:
            fd: int = memfd("treadle-heap", getattr(os, "MFD_CLOEXEC", 1))
        except OSError:
            fd = -1
        if fd >= 0:
            return fd
    import tempfile

    folder = "/dev/shm" if os.path.isdir("/dev/shm") else _util.get_temp_dir()
    fd, path = tempfile.mkstemp(prefix=f"treadle-heap-{os.getpid()}-", dir=folder)
    os.unlink(path)  # nothing to clean up later: the pages live while a descriptor does
    return fd


class Arena:
    """A block of shared memory that can be mapped by other processes.

    ``Arena(size)`` makes a new one; ``Arena(size, fd)`` maps the descriptor *fd* (an
    arena received from another process). ``buffer`` is the mapping.
    """

    def __init__(self, size: int, fd: int = -1) -> None:
        """Map *size* bytes: of a new descriptor when *fd* is -1, else of *fd*."""
        if size <= 0:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size
        if fd == -1:
            fd = _anonymous_fd(size)
            try:
                os.ftruncate(fd, size)
                fallocate = getattr(os, "posix_fallocate", None)
                if fallocate is not None:
                    # Pages reserved now: no SIGBUS at a first write into a full tmpfs.
                    fallocate(fd, 0, size)
            except BaseException:
                os.close(fd)
                raise
        self.fd = fd
        self._serial = next(_arena_serials)
        try:
            self.buffer = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            raise
        self._closer = _util.Finalize(self, os.close, (fd,))

    def _release_fd(self) -> None:
        # The mapping stays valid without the descriptor; only passing it on needs one.
        self._closer()
        self.fd = -1

    def __reduce__(self) -> tuple[Any, ...]:
        if self.fd < 0:
            raise ValueError("Arena is unpicklable: its descriptor was released")
        from ._reduction import DupFd

        return _rebuild_arena, (self.size, DupFd(self.fd))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} size={self.size} fd={self.fd}>"


def _rebuild_arena(size: int, dupfd: Any) -> Arena:
    return Arena(size, dupfd.detach())


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


class Heap:
    """Blocks of shared memory, carved out of arenas; thread-safe and fork-aware.

    ``malloc(size)`` returns a block ``(arena, start, stop)``; ``free(block)`` gives it
    back (possibly from a garbage-collector callback: a free that finds the heap busy is
    queued, never waited for). A fork child starts with an empty heap of its own.
    """

    _alignment = 8
    #: A fully free arena at least this large is given back to the OS.
    _DISCARD_FREE_SPACE_LARGER_THAN = 4 * 1024 * 1024
    #: New arenas double in size until they reach this.
    _DOUBLE_ARENA_SIZE_UNTIL = 4 * 1024 * 1024

    def __init__(self, size: int = mmap.PAGESIZE) -> None:
        """Start empty; the first arena has *size* bytes (rounded to pages)."""
        self._reset(size)
        _live_heaps.add(self)

    def _reset(self, size: int) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._next_arena_size = _round_up(max(size, 1), mmap.PAGESIZE)
        self._arenas: list[Arena] = []
        # Free blocks, indexed three ways: by (length, arena serial, start) in a sorted
        # list for best fit, and by their two ends for merging with neighbours.
        self._free_sorted: list[tuple[int, int, int]] = []
        self._free_starting: dict[tuple[int, int], int] = {}
        self._free_ending: dict[tuple[int, int], int] = {}
        self._by_serial: dict[int, Arena] = {}
        self._allocated_blocks: dict[Arena, set[tuple[int, int]]] = {}
        # Frees that found the lock taken (a GC callback inside malloc): done later.
        self._pending_free_blocks: list[Block] = []
        self._n_mallocs = 0
        self._n_frees = 0

    def _own(self) -> None:
        # A fork child must not use the parent's bookkeeping (nor a lock that another
        # thread of the parent held at the fork): it starts afresh.
        if os.getpid() != self._pid:
            self._reset(mmap.PAGESIZE)

    # Free-block bookkeeping --------------------------------------------------------

    def _add_free(self, arena: Arena, start: int, stop: int) -> None:
        key = arena._serial
        bisect.insort(self._free_sorted, (stop - start, key, start))
        self._free_starting[(key, start)] = stop
        self._free_ending[(key, stop)] = start

    def _remove_free(self, arena: Arena, start: int, stop: int) -> None:
        key = arena._serial
        entry = (stop - start, key, start)
        where = bisect.bisect_left(self._free_sorted, entry)
        del self._free_sorted[where]
        del self._free_starting[(key, start)]
        del self._free_ending[(key, stop)]

    @property
    def _len_to_seq(self) -> dict[int, list[Block]]:
        """The free blocks by length (a view for inspection, made on each access)."""
        found: dict[int, list[Block]] = {}
        for length, key, start in self._free_sorted:
            arena = self._by_serial[key]
            found.setdefault(length, []).append((arena, start, start + length))
        return found

    @property
    def _lengths(self) -> list[int]:
        """The lengths of the free blocks, ascending, each once."""
        return sorted({entry[0] for entry in self._free_sorted})

    # Allocation --------------------------------------------------------------------

    def _new_arena(self, size: int) -> Arena:
        length = _round_up(max(size, self._next_arena_size), mmap.PAGESIZE)
        if self._next_arena_size < self._DOUBLE_ARENA_SIZE_UNTIL:
            self._next_arena_size *= 2
        _util.info("allocating a new mmap of length %d", length)
        arena = Arena(length)
        self._arenas.append(arena)
        self._by_serial[arena._serial] = arena
        return arena

    def _take(self, size: int) -> Block:
        where = bisect.bisect_left(self._free_sorted, (size, -1, -1))
        if where < len(self._free_sorted):
            length, key, start = self._free_sorted[where]
            arena = self._by_serial[key]
            self._remove_free(arena, start, start + length)
        else:
            arena = self._new_arena(size)
            start, length = 0, arena.size
        if length > size:
            self._add_free(arena, start + size, start + length)
        return arena, start, start + size

    def _give_back(self, block: Block) -> None:
        arena, start, stop = block
        held = self._allocated_blocks.get(arena)
        if held is None or (start, stop) not in held:
            return  # not ours (a block of the parent, in a fork child)
        held.discard((start, stop))
        if not held:
            del self._allocated_blocks[arena]
        self._n_frees += 1
        key = arena._serial
        before = self._free_ending.get((key, start))
        if before is not None:
            self._remove_free(arena, before, start)
            start = before
        after = self._free_starting.get((key, stop))
        if after is not None:
            self._remove_free(arena, stop, after)
            stop = after
        whole = start == 0 and stop == arena.size
        if whole and arena.size >= self._DISCARD_FREE_SPACE_LARGER_THAN:
            self._arenas.remove(arena)
            del self._by_serial[key]
            arena._release_fd()
            return
        self._add_free(arena, start, stop)

    def _drain_pending(self) -> None:
        while self._pending_free_blocks:
            self._give_back(self._pending_free_blocks.pop())

    def malloc(self, size: int) -> Block:
        """Return a block of at least *size* bytes: ``(arena, start, stop)``."""
        if size < 0:
            raise ValueError(f"Size {size:n} out of range")
        if size >= sys.maxsize:
            raise OverflowError(f"Size {size:n} too large")
        self._own()
        rounded = _round_up(max(size, 1), self._alignment)
        with self._lock:
            self._drain_pending()
            self._n_mallocs += 1
            arena, start, stop = self._take(rounded)
            self._allocated_blocks.setdefault(arena, set()).add((start, stop))
            return arena, start, stop

    def free(self, block: Block) -> None:
        """Give *block* back; safe to call from a garbage-collector callback."""
        self._own()
        if not self._lock.acquire(blocking=False):
            # The heap is busy, maybe in this very thread (a GC pass inside malloc):
            # waiting could deadlock, so the block waits for the next malloc or free.
            self._pending_free_blocks.append(block)
            return
        try:
            self._drain_pending()
            self._give_back(block)
        finally:
            self._lock.release()


_live_heaps: weakref.WeakSet[Heap] = weakref.WeakSet()


def _reset_after_fork() -> None:
    # At once in a fork child, before any thread it starts can race to the first malloc
    # (the pid check in Heap._own stays for forks this hook does not see).
    for heap in list(_live_heaps):
        heap._reset(mmap.PAGESIZE)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)


class BufferWrapper:
    """One block of the shared heap, held while this object lives.

    ``create_memoryview()`` returns a view of exactly the requested size. Pickled, it
    carries its arena, so another process sees the same memory (the block is freed only
    by the process that allocated it).
    """

    _heap = Heap()

    def __init__(self, size: int) -> None:
        """Allocate *size* bytes (>= 0) from the shared heap."""
        heap = type(self)._heap
        block = heap.malloc(size)  # ValueError or OverflowError for a bad size
        # The process that allocated the block frees it, when this object dies.
        _util.Finalize(self, heap.free, args=(block,))
        self._state = (block, size)

    def create_memoryview(self) -> memoryview:
        """Return a writable memoryview of this block (its requested size)."""
        (arena, start, _stop), size = self._state
        return memoryview(arena.buffer)[start : start + size]
