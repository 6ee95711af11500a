"""Queues between processes: ``Queue``, ``JoinableQueue`` and ``SimpleQueue``.

How a :class:`Queue` works
--------------------------
Items travel through one pipe. ``put`` only appends the item to a buffer of this
process; a feeder thread (one per process, started by the first ``put``) pickles the
buffered items and writes them to the pipe. ``get`` reads one message from the pipe.
A bounded semaphore counts the free places (``maxsize``), a process-shared lock
serialises readers and another one writers.

Small items leave in batches: the feeder writes as many pickled items as fit in
``PIPE_BUF`` bytes in one ``writev``. The kernel makes such a write atomic, so a
writer killed at any moment leaves whole messages or none, and a batch costs one
system call however many items it holds.

Beyond the stdlib, each queue has a few bytes of memory shared by every process that
uses it (a ``memfd`` mapped in each of them):

* the shutdown state, so that ``shutdown()`` in one process is seen by ``put`` and
  ``get`` in all of them (reading one byte: the fast path pays nothing else);
* which process holds the reader's and the writer's lock, and whether it is in the
  middle of a message. A process blocked on one of those locks for a while checks
  whether the holder still lives; when it was killed (SIGKILL leaves a semaphore
  taken), the lock is handed on. Messages travel in frames of 256 bytes, so that a
  small item is read with one ``read()`` and written with one atomic ``write()``: a
  process killed at any moment leaves the pipe in step. Only one killed in the middle
  of a message longer than a frame leaves it out of step, and the queue then says so
  (``OSError``) instead of reading garbage or hanging.

A shutdown is announced in the pipe as an empty message (a pickle is never empty):
it wakes the reader blocked in ``read``, which then looks at the shared state.
Putters blocked on the semaphore are woken by one extra release, which each of them
passes on.
"""

from __future__ import annotations

import collections
import errno
import io
import mmap
import operator
import os
import pickle
import select
import struct
import time
import types
import weakref
from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

from treadle import threading
from treadle.queue import Empty, Full, ShutDown

from . import _connection, _context, _native, _reduction, _util
from ._util import Finalize, debug, info, is_exiting, register_after_fork

__all__ = ["JoinableQueue", "Queue", "SimpleQueue"]

_T = TypeVar("_T")

#: The largest count a semaphore holds: an unbounded queue's ``maxsize``.
SEM_VALUE_MAX: int = getattr(_native.semlock_type(), "SEM_VALUE_MAX", 0x7FFFFFFF)

# Writes to a pipe of at most this many bytes are atomic (POSIX).
_ATOMIC = getattr(select, "PIPE_BUF", 512)
# writev takes at most IOV_MAX (1024 on Linux) buffers; a batch stays well under it.
# The feeder takes at most this many items from the buffer at a time.
_TAKE = 64

_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")
_LARGEST_SHORT = 0x7FFFFFFF

# The shared state: a flag byte, then the holders of the reader's and writer's locks.
_STATE_SIZE = 4096
_FLAGS = 0
_SHUT = 1  # shutdown() was called
_NOW = 2  # ... with immediate=True
_BROKEN = 4  # a process was killed in the middle of a message: the pipe is out of step
_ENDED = 8  # a reader met the wake-up that shutdown() wrote after the items put before it
_READER_SLOT = 8
_WRITER_SLOT = 16
# Then a table of (pid, places held): how many places of the semaphore each process
# took for items still in its buffer. A process killed with items there never releases
# them; a putter that waits long gives them back (see _reclaim).
_TABLE = 64
_ENTRY = struct.Struct("=qq")
_ENTRIES = (_STATE_SIZE - _TABLE) // _ENTRY.size
_HELD = struct.Struct("=q")
# A slot holds 0 (free), the holder's pid, or minus the pid while it is mid-message
# (between the reads or writes of a message that takes more than one).
_PID = struct.Struct("=q")
_pack_pid = _PID.pack_into

# How long a process waits on a lock before it checks whether the holder still lives.
_PATIENCE = 0.2
# ... and after how many periods in a row a lock taken by nobody recorded counts as orphaned.
_ORPHANED = 10

_monotonic = time.monotonic
_loads = _reduction.ForkingPickler.loads
_PLAIN_DUMPS = _reduction.ForkingPickler.__dict__["dumps"]
_PLAIN_INIT = _reduction.ForkingPickler.__dict__["__init__"]


class _Pid:
    """The id of this process, kept current across fork without a system call per use."""

    value = os.getpid()

    @classmethod
    def refresh(cls) -> None:
        cls.value = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_Pid.refresh)


class _Closing:
    """Told to the feeder thread: flush what came before, close the pipe ends, stop."""


class _Wake:
    """Told to the feeder thread: write an empty message (a shutdown wakes readers)."""


_CLOSE = _Closing()
_WAKE = _Wake()


# ---------------------------------------------------------------------------------------
# The memory every process of a queue shares.


def _new_memory() -> int:
    """Return the descriptor of a fresh, zeroed, anonymous file of _STATE_SIZE bytes."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("treadle-queue", os.MFD_CLOEXEC)
    else:  # pragma: no cover - macOS: an unlinked temporary file does as well
        import tempfile  # noqa: PLC0415 - macOS only

        fd, path = tempfile.mkstemp(prefix="treadle-queue-", dir=_util.get_temp_dir())
        os.unlink(path)
    try:
        os.ftruncate(fd, _STATE_SIZE)
    except BaseException:
        os.close(fd)
        raise
    return fd


class _Shared:
    """A few bytes mapped in every process that uses one queue."""

    __slots__ = ("fd", "map")

    def __init__(self, fd: int | None = None) -> None:
        self.fd = -1
        self.fd = _new_memory() if fd is None else fd
        self.map = mmap.mmap(self.fd, _STATE_SIZE)

    def __reduce__(self) -> tuple[Any, tuple[Any]]:
        return _rebuild_shared, (_reduction.DupFd(self.fd),)

    def __del__(self, _close: Any = os.close) -> None:
        # os.close bound at definition: module globals may be gone at interpreter exit.
        # The map is not closed here: a feeder thread still flushing holds it, and it
        # unmaps itself when the last reference goes.
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            _close(fd)


def _rebuild_shared(df: Any) -> _Shared:
    return _Shared(df.detach())


def _alive(pid: int) -> bool:
    """Whether *pid* is a live process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


def _rescue(lock: Any, shared: mmap.mmap, slot: int, orphaned: bool) -> None:
    """Free *lock* if the process recorded as its holder in *slot* is dead.

    *orphaned*: the lock has been taken with no holder recorded for a long while (its
    holder died between taking it and writing its pid, or between clearing its pid and
    releasing it): free it too.
    """
    holder: int = _PID.unpack_from(shared, slot)[0]
    if holder == 0 and not orphaned:
        return
    if holder != 0 and _alive(abs(holder)):
        return
    if _PID.unpack_from(shared, slot)[0] != holder:
        return  # someone else rescued it meanwhile
    if holder < 0:  # killed in the middle of a message: the pipe is out of step
        shared[_FLAGS] |= _BROKEN
    _pack_pid(shared, slot, 0)
    info("a process (pid %d) died holding a queue lock; handing the lock on", abs(holder))
    try:
        lock.release()
    except ValueError:  # another rescuer was first
        pass


def _periods(deadline: float | None) -> Iterator[float]:
    """Yield the length of each patience period until *deadline* (for ever with None).

    The waits that watch for dead processes wait in such periods and look between them.
    """
    while True:
        wait = _PATIENCE
        if deadline is not None:
            wait = min(wait, deadline - _monotonic())
            if wait <= 0.0:
                return
        yield wait


def _take(lock: Any, shared: mmap.mmap, slot: int, block: bool, deadline: float | None) -> bool:
    """Acquire *lock* (a SemLock), recording this process in *slot*; False on timeout."""
    if lock.acquire(False):
        _pack_pid(shared, slot, _Pid.value)
        return True
    if not block:
        return False
    unowned = 0  # patience periods in a row that found the lock taken by nobody
    for wait in _periods(deadline):
        if lock.acquire(True, wait):
            _pack_pid(shared, slot, _Pid.value)
            return True
        unowned = unowned + 1 if _PID.unpack_from(shared, slot)[0] == 0 else 0
        _rescue(lock, shared, slot, unowned >= _ORPHANED)
    return False


def _give_back(release: Any) -> None:
    """Release a bounded semaphore that a shutdown may have released once too often."""
    try:
        release()
    except ValueError:
        pass


def _claim_entry(shared: mmap.mmap, wlock: Any) -> int | None:
    """Give this process an entry of the table; return its offset (None: table full)."""
    me = _Pid.value
    _take(wlock, shared, _WRITER_SLOT, True, None)
    try:
        for index in range(_ENTRIES):
            offset = _TABLE + index * _ENTRY.size
            pid, held = _ENTRY.unpack_from(shared, offset)
            if pid in (me, 0) or (held == 0 and not _alive(pid)):
                _ENTRY.pack_into(shared, offset, me, 0)
                return offset
        return None
    finally:
        _pack_pid(shared, _WRITER_SLOT, 0)
        wlock.release()


def _count_held(shared: mmap.mmap, offset: int | None, change: int) -> None:
    """Add *change* to this process's places held (the caller holds the buffer's lock)."""
    if offset is not None:
        place = offset + 8
        _HELD.pack_into(shared, place, _HELD.unpack_from(shared, place)[0] + change)


def _reclaim(shared: mmap.mmap, wlock: Any, release: Any) -> None:
    """Give back the places that dead processes took for items they never sent."""
    me = _Pid.value
    _take(wlock, shared, _WRITER_SLOT, True, None)
    try:
        for index in range(_ENTRIES):
            offset = _TABLE + index * _ENTRY.size
            pid, held = _ENTRY.unpack_from(shared, offset)
            if pid in (0, me) or held <= 0 or _alive(pid):
                continue
            info("a process (pid %d) died holding %d places of a queue; freeing them", pid, held)
            _ENTRY.pack_into(shared, offset, 0, 0)
            for _ in range(held):
                _give_back(release)
    finally:
        _pack_pid(shared, _WRITER_SLOT, 0)
        wlock.release()


# ---------------------------------------------------------------------------------------
# Reading and writing messages.
#
# A message is a 4-byte big-endian length (-1: an 8-byte length follows; 0: a wake-up),
# the pickle, and zero padding up to a multiple of _FRAME bytes. Every write is a whole
# number of frames and those of at most PIPE_BUF bytes are atomic, so the pipe always
# holds whole frames, and a reader takes a message that fits in one frame with one
# read(): it can be killed before or after, never in the middle. Only a longer message
# is read in more than one step (the reader's slot says so meanwhile).

_FRAME = 256
_PADDING = memoryview(bytes(_FRAME))
_WAKE_FRAME = bytes(_FRAME)
_PADS = [bytes(n) for n in range(_FRAME)]  # padding of each length, made once


def _read_exactly(fd: int, size: int) -> bytes | bytearray:
    first = os.read(fd, size)
    got = len(first)
    if got == size:
        return first
    if got == 0:
        raise EOFError
    data = bytearray(size)
    _read_rest(fd, memoryview(data), first)
    return data


def _read_rest(fd: int, view: memoryview, first: bytes) -> None:
    # Fill *view*, whose start *first* already holds, from the pipe.
    got = len(first)
    view[:got] = first
    size = view.nbytes
    while got < size:
        n = os.readv(fd, [view[got : got + _connection.BUFSIZE]])
        if n == 0:
            raise OSError("got end of file during message")
        got += n


def _read_message(fd: int, shared: mmap.mmap) -> bytes | bytearray | memoryview:
    """Read one message that is there to read; the caller holds the reader's lock.

    Returns b"" for a wake-up.
    """
    head = _read_exactly(fd, _FRAME)
    (size,) = _HEADER.unpack_from(head)
    if 0 < size <= _FRAME - 4:
        return head[4 : 4 + size]
    if size == 0:
        return b""
    start = 4
    if size == -1:
        (size,) = _LONG_HEADER.unpack_from(head, 4)
        start = 12
    elif size < 0:
        raise OSError(f"bad message length {size}")
    pid = _Pid.value
    _pack_pid(shared, _READER_SLOT, -pid)  # mid-message until the last frame is in
    whole = bytearray(start + size + (-(start + size) % _FRAME))
    try:
        _read_rest(fd, memoryview(whole), head)  # type: ignore[arg-type]
    except EOFError:
        raise OSError("got end of file during message") from None
    _pack_pid(shared, _READER_SLOT, pid)
    return memoryview(whole)[start : start + size]


def _frame(obj: object) -> tuple[list[Any], int]:
    """Pickle *obj* into the buffers of one message; return them and their length."""
    plain = _reduction.ForkingPickler.__dict__
    if plain["dumps"] is _PLAIN_DUMPS and plain["__init__"] is _PLAIN_INIT:
        framed = _reduction._framed_dumps(obj)
        size = framed.nbytes - 4
        if size <= _LARGEST_SHORT:
            _HEADER.pack_into(framed, 0, size)
            parts: list[Any] = [framed]
        else:
            parts = [_HEADER.pack(-1), _LONG_HEADER.pack(size), framed[4:]]
    else:  # someone replaced the pickler's machinery: go through it, as the stdlib does
        payload = _reduction.ForkingPickler.dumps(obj)
        size = memoryview(payload).nbytes
        if size <= _LARGEST_SHORT:
            parts = [_HEADER.pack(size), payload]
        else:
            parts = [_HEADER.pack(-1), _LONG_HEADER.pack(size), payload]
    length = size + (4 if len(parts) != 3 else 12)
    pad = -length % _FRAME
    if pad:
        parts.append(_PADDING[:pad])
    return parts, length + pad


# A pickle up to this size is framed by the feeder's own pickler; a larger one keeps
# the buffer it was written to (a new one is made for the next item).
_KEEP_BUFFER = 64 * 1024


class _Framer:
    """The feeder thread's pickler, made once: a pickler costs more than a small pickle."""

    def __init__(self) -> None:
        self._fresh()

    plain = True

    def _fresh(self) -> None:
        self.out = io.BytesIO()
        self.pickler = _reduction.ForkingPickler.__new__(_reduction.ForkingPickler)
        pickle.Pickler.__init__(self.pickler, self.out, None)

    def prepare(self) -> None:
        """Catch up with the pickler's registrations (once per chunk of items)."""
        plain = _reduction.ForkingPickler.__dict__
        self.plain = plain["dumps"] is _PLAIN_DUMPS and plain["__init__"] is _PLAIN_INIT
        self.pickler.dispatch_table = _reduction._merged_table(
            _reduction.ForkingPickler._extra_reducers
        )

    def frame(self, obj: object) -> tuple[list[Any], int]:
        """Pickle *obj* into the buffers of one message; return them and their length."""
        if not self.plain:
            return _frame(obj)  # someone replaced the pickler's machinery
        out, pickler = self.out, self.pickler
        out.seek(0)
        out.truncate()
        try:
            pickler.dump(obj)
        finally:
            pickler.clear_memo()
        size = out.tell()
        if size > _KEEP_BUFFER:
            payload = out.getbuffer()
            table = pickler.dispatch_table
            self._fresh()
            self.pickler.dispatch_table = table
            if size <= _LARGEST_SHORT:
                parts: list[Any] = [_HEADER.pack(size), payload]
                length = size + 4
            else:
                parts = [_HEADER.pack(-1), _LONG_HEADER.pack(size), payload]
                length = size + 12
            pad = -length % _FRAME
            if pad:
                parts.append(_PADDING[:pad])
            return parts, length + pad
        pad = -(size + 4) % _FRAME
        return [_HEADER.pack(size), out.getvalue(), _PADS[pad]], size + 4 + pad


def _write_batch(fd: int, parts: list[Any], size: int, wlock: Any, shared: mmap.mmap) -> None:
    """Write whole messages under the writer's lock (batches of small ones are atomic)."""
    _take(wlock, shared, _WRITER_SLOT, True, None)
    try:
        if size > _ATOMIC:  # the kernel may split this write: mark it as mid-message
            _pack_pid(shared, _WRITER_SLOT, -_Pid.value)
        sent = os.writev(fd, parts)
        if sent != size:
            _connection._write_rest(fd, parts, sent)
    finally:
        _pack_pid(shared, _WRITER_SLOT, 0)
        wlock.release()


# ---------------------------------------------------------------------------------------
# The feeder thread.


def _feed(
    *,
    buffer: collections.deque[Any],
    notempty: Any,
    writer: _connection.Connection,
    reader_close: Any,
    wlock: Any,
    shared: mmap.mmap,
    sem: Any,
    onerror: Any,
    ignore_epipe: bool,
    entry: list[int | None],
) -> None:
    """Move items from *buffer* to the pipe until told to close."""
    fd = writer.fileno()
    framer = _Framer()
    handled = 0  # items of the last chunk: their places are no longer held here
    while True:
        with notempty:
            if handled:
                _count_held(shared, entry[0], -handled)
            while not buffer:
                notempty.wait()
            taken = [buffer.popleft() for _ in range(min(len(buffer), _TAKE))]
        handled = sum(1 for obj in taken if obj is not _CLOSE and obj is not _WAKE)
        framer.prepare()
        # Pickle outside the lock; group the messages into writes of at most PIPE_BUF
        # bytes (atomic), a larger message going alone.
        parts: list[Any] = []
        items: list[Any] = []
        size = 0
        for obj in taken:
            if obj is _CLOSE:
                if parts and not _flush(
                    fd, parts, items, size, wlock, shared, sem, onerror, ignore_epipe
                ):
                    return
                debug("feeder thread told to close -- exiting")
                reader_close()
                writer.close()
                return
            if obj is _WAKE:
                framed: list[Any] = [_WAKE_FRAME]
                length = _FRAME
            else:
                try:
                    framed, length = framer.frame(obj)
                except Exception as exc:
                    # The item never reaches the pipe: its place is free again.
                    _give_back(sem.release)
                    onerror(exc, obj)
                    continue
            if parts and size + length > _ATOMIC:
                if not _flush(fd, parts, items, size, wlock, shared, sem, onerror, ignore_epipe):
                    return
                parts, items, size = [], [], 0
            parts += framed
            size += length
            if obj is not _WAKE:
                items.append(obj)
        if parts and not _flush(fd, parts, items, size, wlock, shared, sem, onerror, ignore_epipe):
            return


def _flush(  # noqa: PLR0917 - the feeder's hot path: no keyword packing
    fd: int,
    parts: list[Any],
    items: list[Any],
    size: int,
    wlock: Any,
    shared: mmap.mmap,
    sem: Any,
    onerror: Any,
    ignore_epipe: bool = False,
) -> bool:
    """Write one batch; False when the feeder should stop."""
    try:
        _write_batch(fd, parts, size, wlock, shared)
    except Exception as exc:
        if ignore_epipe and getattr(exc, "errno", 0) == errno.EPIPE:
            return False
        if is_exiting():
            info("error in queue thread: %s", exc)
            return False
        for obj in items:
            _give_back(sem.release)
            onerror(exc, obj)
    return True


# ---------------------------------------------------------------------------------------
# Queue


# Linux lets a pipe hold more than 64 KiB (up to /proc/sys/fs/pipe-max-size): fewer
# switches between feeder and reader for large items. Not more than 256 KiB: the
# capacity counts against the user's pipe quota (pipe-user-pages-soft, 64 MiB), past
# which new pipes get only 8 KiB. The pages are only taken as the pipe fills.
_PIPE_BYTES = 256 * 1024


def _widen(fd: int) -> None:
    import fcntl  # noqa: PLC0415 - only here

    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is not None:
        try:
            fcntl.fcntl(fd, setsize, _PIPE_BYTES)
        except OSError:  # over the limit, or per-user pipe quota reached: keep 64 KiB
            pass


def _check_maxsize(maxsize: object) -> int:
    try:
        size = operator.index(maxsize)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"maxsize must be an integer, not {type(maxsize).__name__}") from None
    if size <= 0:
        return SEM_VALUE_MAX
    if size > SEM_VALUE_MAX:
        raise ValueError(f"maxsize must be at most {SEM_VALUE_MAX}, got {size}")
    return size


class Queue(Generic[_T]):
    """A FIFO queue shared by processes (``multiprocessing.Queue``).

    ``put`` hands the item to a background feeder thread, which pickles it and writes
    it to a pipe; ``get`` reads one. *maxsize* <= 0 means no bound. The queue may go to
    child processes only as they start (as an argument of ``Process``).

    Beyond the stdlib: :meth:`shutdown` ends the queue in every process that uses it,
    as ``queue.Queue.shutdown`` (3.13) does within one.
    """

    __class_getitem__ = classmethod(types.GenericAlias)  # type: ignore[var-annotated]

    def __init__(self, maxsize: int = 0, *, ctx: Any) -> None:
        """Make an empty queue holding at most *maxsize* items, with locks from *ctx*."""
        size = _check_maxsize(maxsize)
        self._maxsize = size
        self._reader, self._writer = _connection.Pipe(duplex=False)
        _widen(self._writer.fileno())
        self._rlock = ctx.Lock()
        self._opid = os.getpid()
        self._wlock = ctx.Lock()
        self._sem = ctx.BoundedSemaphore(size)
        self._shared = _Shared()
        self._ignore_epipe = False
        self._reset()
        register_after_fork(self, Queue._after_fork)

    # What a spawned child gets: the process-shared parts (the buffer and the feeder
    # thread stay with each process).
    _SHARED_FIELDS: ClassVar[tuple[str, ...]] = (
        "_maxsize",
        "_reader",
        "_writer",
        "_rlock",
        "_wlock",
        "_sem",
        "_shared",
        "_opid",
        "_ignore_epipe",
    )

    def __getstate__(self) -> dict[str, Any]:
        _context.assert_spawning(self)
        return {name: getattr(self, name) for name in self._SHARED_FIELDS}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self._reset()

    def _after_fork(self) -> None:
        debug("Queue._after_fork()")
        self._reset()

    def _reset(self) -> None:
        self._notempty = threading.Condition(threading.Lock())
        self._buffer: collections.deque[Any] = collections.deque()
        self._thread: Any = None
        self._jointhread: Finalize | None = None
        self._joincancelled = False
        self._closed = False
        self._close: Finalize | None = None
        self._send_bytes = self._writer.send_bytes
        self._recv_bytes = self._reader.recv_bytes
        self._poll = self._reader.poll
        # Used only by the holder of the reader's lock (one poll() at a time).
        self._poller = select.poll()
        self._poller.register(self._reader.fileno(), select.POLLIN)
        # The C semaphores' methods, bound once: put and get call them every time.
        self._sem_acquire = self._sem._semlock.acquire
        self._sem_release = self._sem._semlock.release
        self._map = self._shared.map
        # Offset of this process's entry in the table of places held (claimed at the
        # first put), in a list the feeder thread shares.
        self._entry: list[int | None] = []

    # Putting -------------------------------------------------------------------------

    def put(self, obj: _T, block: bool = True, timeout: float | None = None) -> None:
        """Put *obj* in the queue, waiting (up to *timeout* seconds) for a free place.

        Raises :exc:`queue.Full` if none came, :exc:`ValueError` if the queue is
        closed, :exc:`treadle.queue.ShutDown` after :meth:`shutdown`.
        """
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        if not self._sem_acquire(False) and not (block and self._wait_for_place(timeout)):
            if self._map[_FLAGS] & _SHUT:
                raise ShutDown
            raise Full
        if self._map[_FLAGS] & _SHUT:
            # Pass the place on: it may be the release that wakes the next putter.
            _give_back(self._sem_release)
            raise ShutDown
        self._accepted()
        if not self._entry:
            self._entry.append(_claim_entry(self._map, self._wlock._semlock))
        with self._notempty:
            if self._thread is None:
                self._start_thread()
            self._buffer.append(obj)
            _count_held(self._map, self._entry[0], 1)
            self._notempty.notify()

    def _wait_for_place(self, timeout: float | None) -> bool:
        # Wait in periods: after each, give back the places of dead processes' items.
        deadline = None if timeout is None else _monotonic() + timeout
        for wait in _periods(deadline):
            if self._sem_acquire(True, wait):
                return True
            if self._map[_FLAGS] & _SHUT:
                return False
            _reclaim(self._map, self._wlock._semlock, self._sem_release)
        return False

    def put_nowait(self, obj: _T) -> None:
        """Put *obj* if there is a free place at once; else raise :exc:`queue.Full`."""
        self.put(obj, False)

    def _accepted(self) -> None:
        """Count an accepted item (JoinableQueue does)."""

    def _discarded(self, count: int) -> None:
        """*count* items were dropped by an immediate shutdown (JoinableQueue counts them)."""

    # Getting -------------------------------------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Remove and return an item, waiting (up to *timeout* seconds) for one.

        Raises :exc:`queue.Empty` if none came, :exc:`ValueError` if the queue is
        closed, :exc:`treadle.queue.ShutDown` once a shut-down queue is drained.
        """
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        deadline = None
        if block and timeout is not None:
            deadline = _monotonic() + timeout
        shared = self._map
        if not _take(self._rlock._semlock, shared, _READER_SLOT, block, deadline):
            raise Empty
        try:
            fd = self._reader.fileno()
            poller = self._poller
            waits = not block or deadline is not None
            while True:
                if shared[_FLAGS]:
                    self._check_state(fd)
                # An untimed get blocks in read(): a frame is read whole or not at all,
                # so a reader killed while it waits leaves the pipe in step.
                if waits and not poller.poll(0):
                    if not block:
                        raise Empty
                    wait = deadline - _monotonic()  # type: ignore[operator]
                    if wait <= 0.0 or not _connection._poll(poller, wait):
                        raise Empty
                    continue  # look at the shared state again: it may be a wake-up
                data = _read_message(fd, shared)
                if data:
                    break
                shared[_FLAGS] |= _ENDED  # the items put before shutdown() have passed
            try:
                self._sem_release()
            except ValueError:
                # Already full: a shutdown gives one extra place to wake putters, and
                # the places of a killed process are freed by estimate (its last items
                # may have been sent just before it died).
                pass
        finally:
            _pack_pid(shared, _READER_SLOT, 0)
            self._rlock._semlock.release()
        return _loads(data)  # type: ignore[no-any-return]

    def get_nowait(self) -> _T:
        """Remove and return an item if one is there at once; else raise :exc:`queue.Empty`."""
        return self.get(False)

    def _check_state(self, fd: int) -> None:
        """Raise what a shut-down or broken queue says to a getter holding the lock."""
        flags = self._map[_FLAGS]
        if flags & _BROKEN:
            raise OSError(
                "the queue's pipe is out of step: a process using it was killed in the"
                " middle of a message"
            )
        if flags & _NOW:
            self._drain(fd)
            raise ShutDown
        if flags & _ENDED and not self._poller.poll(0):
            raise ShutDown

    def _drain(self, fd: int) -> None:
        """Drop every message in the pipe now (the caller holds the reader's lock)."""
        dropped = 0
        while self._poller.poll(0):
            if _read_message(fd, self._map):
                _give_back(self._sem_release)
                dropped += 1
        if dropped:
            self._discarded(dropped)

    # Size ----------------------------------------------------------------------------

    def qsize(self) -> int:
        """Return the approximate number of items (NotImplementedError on macOS)."""
        free: int = self._sem._semlock._get_value()
        return max(0, self._maxsize - free)

    def empty(self) -> bool:
        """Whether the queue is empty (approximately: other processes act meanwhile)."""
        return not self._poll()

    def full(self) -> bool:
        """Whether the queue is full (approximately)."""
        return bool(self._sem._semlock._is_zero())

    # Shutting down (beyond the stdlib) -----------------------------------------------

    def shutdown(self, immediate: bool = False) -> None:
        """End the queue for every process that uses it.

        Afterwards ``put`` raises :exc:`treadle.queue.ShutDown` everywhere, and ``get``
        raises it once the queue is empty; with *immediate* true the items still
        queued are dropped and ``get`` raises it at once. Blocked ``put`` and ``get``
        calls in every process wake up. Items another process put just before may
        still arrive after an immediate shutdown; a later ``get`` drops them.
        """
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")
        shared = self._map
        shared[_FLAGS] |= _SHUT | (_NOW if immediate else 0)
        dropped = 0
        with self._notempty:
            if immediate:
                kept = [item for item in self._buffer if item is _CLOSE or item is _WAKE]
                dropped = len(self._buffer) - len(kept)
                self._buffer.clear()
                self._buffer.extend(kept)
            if self._thread is None:
                self._start_thread()
            self._buffer.append(_WAKE)  # wakes the reader blocked in read()
            self._notempty.notify()
        for _ in range(dropped):
            _give_back(self._sem_release)
        if dropped:
            self._discarded(dropped)
        _give_back(self._sem_release)  # wakes a blocked putter, who passes it on
        if immediate:
            self._drain_if_free()

    def _drain_if_free(self) -> None:
        # Drop what the pipe holds now, unless another reader has the lock.
        shared = self._map
        if _take(self._rlock._semlock, shared, _READER_SLOT, False, None):
            try:
                self._drain(self._reader.fileno())
            finally:
                _pack_pid(shared, _READER_SLOT, 0)
                self._rlock._semlock.release()

    @property
    def is_shutdown(self) -> bool:
        """Whether :meth:`shutdown` was called, in any process (an attribute, as in 3.13)."""
        return bool(self._map[_FLAGS] & _SHUT)

    # Closing -------------------------------------------------------------------------

    def close(self) -> None:
        """Say this process will put no more: the feeder flushes the buffer and stops."""
        debug("Queue.close()")
        self._closed = True
        close, self._close = self._close, None
        if close is not None:
            close()

    def join_thread(self) -> None:
        """Wait for the feeder thread to flush the buffer (only after :meth:`close`)."""
        debug("Queue.join_thread()")
        if not self._closed:
            raise AssertionError(f"Queue {self!r} not closed")
        if self._jointhread is not None:
            self._jointhread()

    def cancel_join_thread(self) -> None:
        """Do not wait for the feeder thread at exit (buffered items may be lost)."""
        debug("Queue.cancel_join_thread()")
        self._joincancelled = True
        if self._jointhread is not None:
            self._jointhread.cancel()

    def _terminate_broken(self) -> None:
        # Close a queue whose readers are gone: nothing is written to the pipe any more.
        self._reader.close()
        self.close()
        self.join_thread()

    def _start_thread(self) -> None:
        debug("Queue._start_thread()")
        feeder = threading.Thread(
            target=_feed,
            kwargs={
                "buffer": self._buffer,
                "notempty": self._notempty,
                "writer": self._writer,
                "reader_close": self._reader.close,
                "wlock": self._wlock._semlock,
                "shared": self._map,
                "sem": self._sem._semlock,
                "onerror": self._on_queue_feeder_error,
                "ignore_epipe": self._ignore_epipe,
                "entry": self._entry,
            },
            name="QueueFeederThread",
            daemon=True,
        )
        feeder.start()  # may fail late in interpreter shutdown: then no thread is kept
        self._thread = feeder
        self._arm_finalizers(feeder)

    def _arm_finalizers(self, feeder: Any) -> None:
        # When the queue is collected (or at exit, priority 10) the feeder flushes and
        # stops; at exit (priority -5, after children were joined) it is waited for.
        self._close = Finalize(self, _tell_closing, [self._buffer, self._notempty], exitpriority=10)
        if self._joincancelled:
            return
        self._jointhread = Finalize(feeder, _join_feeder, [weakref.ref(feeder)], exitpriority=-5)

    @staticmethod
    def _on_queue_feeder_error(e: BaseException, obj: object) -> None:
        """Report an item the feeder thread could not send: print the traceback.

        Called within the ``except`` block; a hook for subclasses (concurrent.futures
        uses it).
        """
        import traceback  # noqa: PLC0415 - only when an item fails

        traceback.print_exc()


def _join_feeder(thread_ref: Any) -> None:
    thread = thread_ref()
    if thread is not None:
        debug("joining queue thread")
        thread.join()


def _tell_closing(buffer: collections.deque[Any], notempty: Any) -> None:
    with notempty:
        buffer.append(_CLOSE)
        notempty.notify()


# ---------------------------------------------------------------------------------------
# JoinableQueue


class JoinableQueue(Queue[_T]):
    """A :class:`Queue` whose consumers report each item done (``task_done``/``join``)."""

    def __init__(self, maxsize: int = 0, *, ctx: Any) -> None:
        """Make an empty joinable queue holding at most *maxsize* items."""
        super().__init__(maxsize, ctx=ctx)
        self._unfinished_tasks = ctx.Semaphore(0)
        self._cond = ctx.Condition()

    _SHARED_FIELDS = (*Queue._SHARED_FIELDS, "_unfinished_tasks", "_cond")

    def _accepted(self) -> None:
        self._unfinished_tasks._semlock.release()

    def _discarded(self, count: int) -> None:
        self._finish(count, strict=False)

    def task_done(self) -> None:
        """Say that an item taken with ``get`` is done; ValueError if none is pending."""
        self._finish(1, strict=True)

    def _finish(self, count: int, *, strict: bool) -> None:
        # Count *count* tasks done; the last one wakes every join().
        pending = self._unfinished_tasks._semlock
        with self._cond:
            done = 0
            while done < count and pending.acquire(False):
                done += 1
            if strict and done < count:
                raise ValueError("task_done() called too many times")
            if pending._is_zero():
                self._cond.notify_all()

    def join(self) -> None:
        """Wait until every item put has been reported done with :meth:`task_done`."""
        with self._cond:
            while not self._unfinished_tasks._semlock._is_zero():
                if not self._map[_FLAGS] & _NOW:
                    self._cond.wait()
                    continue
                # Shut down at once: items still on their way (a feeder was writing
                # them) are dropped as they arrive, and count as done.
                self._cond.wait(_PATIENCE)
                self._drain_if_free()


# ---------------------------------------------------------------------------------------
# SimpleQueue


class SimpleQueue(Generic[_T]):
    """A plain queue between processes: a pipe and two locks, no feeder thread.

    ``put`` writes the pickled item itself (it blocks while the pipe is full).
    """

    __class_getitem__ = classmethod(types.GenericAlias)  # type: ignore[var-annotated]

    def __init__(self, *, ctx: Any) -> None:
        """Make an empty queue, with locks from *ctx*."""
        self._rlock, self._wlock = ctx.Lock(), ctx.Lock()
        pipe = _connection.Pipe(duplex=False)
        self._reader, self._writer = pipe
        self._poll = pipe[0].poll

    def close(self) -> None:
        """Close the queue's pipe in this process."""
        self._reader.close()
        self._writer.close()

    def empty(self) -> bool:
        """Whether the queue is empty (approximately)."""
        return not self._poll()

    def __getstate__(self) -> dict[str, Any]:
        _context.assert_spawning(self)
        return {"pipe": (self._reader, self._writer), "locks": (self._rlock, self._wlock)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._reader, self._writer = state["pipe"]
        self._rlock, self._wlock = state["locks"]
        self._poll = self._reader.poll

    def get(self) -> _T:
        """Remove and return an item, waiting for one."""
        with self._rlock:
            data = self._reader.recv_bytes()
        return _loads(data)  # type: ignore[no-any-return]

    def put(self, obj: _T) -> None:
        """Put *obj* in the queue (pickled now, in this thread)."""
        data = _reduction.ForkingPickler.dumps(obj)
        with self._wlock:
            self._writer.send_bytes(data)
