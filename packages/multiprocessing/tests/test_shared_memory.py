"""treadle.multiprocessing.shared_memory: SharedMemory and ShareableList."""

from __future__ import annotations

import errno
import itertools
import os
import pickle
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import _shm_targets  # type: ignore[import-not-found,unused-ignore]
import pytest

from pytest_treadle import check_public_surface
from treadle.multiprocessing import _shared_memory, shared_memory
from treadle.multiprocessing.shared_memory import ShareableList, SharedMemory

SHM = Path("/dev/shm")


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the segments the test creates without a name of its own.

    (/dev/shm is shared with every other program: the test checks its own names only.)
    """
    names: list[str] = []
    original = _shared_memory._make_filename

    def recording() -> str:
        names.append(original())
        return names[-1]

    monkeypatch.setattr(shared_memory, "_make_filename", recording)
    return names


def _none_left(names: list[str]) -> bool:
    return not any((SHM / name.lstrip("/")).exists() for name in names)


def _unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{os.urandom(3).hex()}"


# SharedMemory -------------------------------------------------------------------------


def test_create_attach_close_unlink(made: list[str]) -> None:
    segment = SharedMemory(create=True, size=1000)
    try:
        assert segment.size == 1000
        assert len(segment.buf) == 1000
        assert segment.name.startswith("psm_")
        assert segment._name == "/" + segment.name
        assert repr(segment) == f"SharedMemory({segment.name!r}, size=1000)"
        # Private to the user who made it.
        mode = (SHM / segment.name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600
        segment.buf[:5] = b"hello"
        # Attaching ignores the size given, and sees the same bytes.
        other = SharedMemory(segment.name, size=50_000)
        assert other.size == 1000
        assert bytes(other.buf[:5]) == b"hello"
        other.buf[0] = ord("J")
        other.close()
        other.close()  # a second close does nothing
        assert other._buf is None
        assert bytes(segment.buf[:5]) == b"Jello"
    finally:
        segment.close()
        segment.unlink()
    assert len(made) == 1
    assert _none_left(made)
    with pytest.raises(FileNotFoundError):
        segment.unlink()  # a segment is removed once


def test_named_segment_and_existing_name() -> None:
    name = _unique("treadle_test")
    segment = SharedMemory(name, create=True, size=10)
    try:
        assert segment.name == name
        assert segment.size == 10
        with pytest.raises(FileExistsError):
            SharedMemory(name, create=True, size=10)
    finally:
        segment.close()
        segment.unlink()
    with pytest.raises(FileNotFoundError):
        SharedMemory(name)


def test_bad_arguments(made: list[str]) -> None:
    with pytest.raises(ValueError, match="size"):
        SharedMemory(create=True, size=-2)
    with pytest.raises(ValueError, match="size"):
        SharedMemory(create=True, size=0)
    with pytest.raises(ValueError, match="size"):
        SharedMemory(create=True)
    with pytest.raises(ValueError, match="name"):
        SharedMemory(create=False)
    with pytest.raises(ValueError, match="NUL"):
        SharedMemory("abc\0def", create=True, size=10)
    with pytest.raises(TypeError, match="size"):
        SharedMemory(create=True, size="10")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name"):
        SharedMemory(12, create=True, size=10)  # type: ignore[arg-type]
    assert made == []  # refused before any segment was made


def test_unlink_refuses_a_name_with_nul() -> None:
    segment = SharedMemory(create=True, size=10)
    good = segment._name
    try:
        segment._name = f"{good}\0x"
        with pytest.raises(ValueError, match="NUL"):
            segment.unlink()
    finally:
        segment._name = good
        segment.close()
        segment.unlink()


def test_pickle_attaches_by_name() -> None:
    segment = SharedMemory(create=True, size=64)
    try:
        segment.buf[:6] = b"pickle"
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            copy = pickle.loads(pickle.dumps(segment, protocol))
            assert copy.name == segment.name
            assert bytes(copy.buf[:6]) == b"pickle"
            copy.buf[:1] = b"P"
            assert bytes(segment.buf[:1]) == b"P"
            segment.buf[:1] = b"p"
            copy.close()
        data = pickle.dumps(segment)
    finally:
        segment.close()
        segment.unlink()
    with pytest.raises(FileNotFoundError):
        pickle.loads(data)


def test_name_maker_of_the_public_module_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    taken = SharedMemory(create=True, size=1)
    fresh = _shared_memory._SHM_NAME_PREFIX + _unique("t")
    names = iter([taken._name, fresh])
    monkeypatch.setattr(shared_memory, "_make_filename", lambda: next(names))
    try:
        second = SharedMemory(create=True, size=1)  # the taken name is skipped
        assert second._name == fresh
        second.close()
        second.unlink()
    finally:
        taken.close()
        taken.unlink()


def test_full_dev_shm_is_an_oserror(monkeypatch: pytest.MonkeyPatch, made: list[str]) -> None:
    calls: list[tuple[int, int]] = []

    def no_space(fd: int, offset: int, length: int) -> None:
        calls.append((offset, length))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_space)
    with pytest.raises(OSError, match="space") as caught:
        SharedMemory(create=True, size=1 << 20)
    assert caught.value.errno == errno.ENOSPC
    assert calls == [(0, 1 << 20)]
    assert len(made) == 1
    assert _none_left(made)  # the segment was removed again
    # reserve=False: no reservation, the segment is made.
    segment = SharedMemory(create=True, size=4096, reserve=False)
    assert len(calls) == 1
    segment.close()
    segment.unlink()
    # Attaching never reserves.
    name = _unique("treadle_test")
    monkeypatch.undo()
    segment = SharedMemory(name, create=True, size=4096)
    monkeypatch.setattr(os, "posix_fallocate", no_space)
    SharedMemory(name).close()
    segment.close()
    segment.unlink()
    assert len(calls) == 1


def test_reserved_pages_are_allocated() -> None:
    segment = SharedMemory(create=True, size=1 << 20)
    try:
        # st_blocks counts 512-byte units actually allocated to the segment.
        assert (SHM / segment.name).stat().st_blocks * 512 >= 1 << 20
    finally:
        segment.close()
        segment.unlink()


def test_close_with_views_alive_is_a_buffer_error() -> None:
    segment = SharedMemory(create=True, size=16)
    view = segment.buf[2:4]
    with pytest.raises(BufferError):
        segment.close()
    view.release()
    segment.close()
    segment.unlink()


def test_children_attach_by_name_and_by_pickle(ctx: Any) -> None:
    segment = SharedMemory(create=True, size=512)
    try:
        child = ctx.Process(target=_shm_targets.attach_and_write, args=(segment.name, b"howdy"))
        child.start()
        child.join()
        assert child.exitcode == 0
        assert bytes(segment.buf[:5]) == b"howdy"
        child = ctx.Process(target=_shm_targets.attach_and_write, args=(segment, b"HELLO"))
        child.start()
        child.join()
        assert child.exitcode == 0
        assert bytes(segment.buf[:5]) == b"HELLO"
    finally:
        segment.close()
        segment.unlink()


def test_untracked_segment_outlives_its_creator() -> None:
    from treadle import multiprocessing

    ctx = multiprocessing.get_context("forkserver")
    reader_end, writer_end = ctx.Pipe(duplex=False)
    with reader_end, writer_end:
        creator = ctx.Process(
            target=_shm_targets.create_untracked_and_exit, args=(writer_end, b"still here")
        )
        creator.start()
        name = reader_end.recv_bytes().decode()
        creator.join()
    assert creator.exitcode == 0
    try:
        reader = ctx.Process(target=_shm_targets.expect_contents, args=(name, b"still here"))
        reader.start()
        reader.join()
        assert reader.exitcode == 0
    finally:
        leftover = SharedMemory(name, track=False)
        leftover.close()
        leftover.unlink()


def _run(code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkilled_creator_leaks_nothing() -> None:
    proc = _run(
        """
        import signal, sys
        from treadle.multiprocessing.shared_memory import SharedMemory
        segment = SharedMemory(create=True, size=10)
        print(segment.name, flush=True)
        signal.pause()
        """
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    name = proc.stdout.readline().strip()
    assert (SHM / name).exists()
    proc.kill()
    proc.wait()
    # The tracker holds the process's stderr: its end means the tracker has finished.
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert not (SHM / name).exists()
    assert "leaked shared_memory" in err


def test_track_false_in_another_process_keeps_the_segment() -> None:
    segment = SharedMemory(create=True, size=10)
    try:
        for track, survives in ((False, True), (True, False)):
            proc = _run(
                f"""
                import sys
                from treadle.multiprocessing.shared_memory import SharedMemory
                SharedMemory({segment.name!r}, track={track}).close()
                """
            )
            _out, err = proc.communicate()
            assert proc.returncode == 0, err
            assert (SHM / segment.name).exists() is survives
    finally:
        segment.close()
        try:
            segment.unlink()
        except FileNotFoundError:
            pass  # the tracked attachment's tracker removed it (as in the stdlib)


# ShareableList ------------------------------------------------------------------------

VALUES = ["howdy", b"HoWdY", -273.154, 100, None, True, 42]


def test_shareable_list_basics() -> None:
    items = ShareableList(VALUES)
    try:
        assert list(items) == VALUES
        assert len(items) == 7
        assert items.format == "8s8sdqxxxxxx?xxxxxxxx?q"
        assert repr(items) == f"ShareableList({VALUES!r}, name={items.shm.name!r})"
        assert items[-2] is True
        assert items.index(None) == 4
        assert items.index(100) == 3
        assert items.count(42) == 1
        with pytest.raises(ValueError, match="not in"):
            items.index("100")
        with pytest.raises(IndexError):
            items[7]
        with pytest.raises(IndexError):
            items[-8]
        with pytest.raises(IndexError):
            items[7] = 1
        with pytest.raises(TypeError, match="slic"):
            items[1:3]  # type: ignore[index]
        with pytest.raises(TypeError):
            items["0"]  # type: ignore[index]
        items[3] = 42
        assert items.count(42) == 2
        items[4] = "some"  # a new type in a fixed-size slot
        assert items[4] == "some"
        assert items.format == "8s8sdq8sxxxxxxx?q"
        with pytest.raises(ValueError, match="exceeds available storage"):
            items[4] = "far too many"
        with pytest.raises(ValueError, match="exceeds available storage"):
            items[1] = b"123456789"
        items[0] = "encodés"  # 8 bytes of UTF-8: fits the 8-byte slot
        assert items[0] == "encodés"
        assert items[1] == b"HoWdY"  # nothing spilled over
        items[2] = None
        items[5] = 7.25
        assert items[2] is None
        assert items[5] == 7.25
        with pytest.raises(TypeError, match="ShareableList items"):
            items[0] = [1]
        generic: Any = ShareableList
        assert generic[int].__origin__ is ShareableList  # a generic alias, as the stdlib's
    finally:
        items.shm.close()
        items.shm.unlink()


def test_shareable_list_attach_copy_and_empty() -> None:
    items = ShareableList(range(5))
    name = _unique("treadle_test")
    twin = ShareableList(items, name=name)
    try:
        assert twin.shm.name == name
        assert list(twin) == list(range(5))
        twin[0] = 77
        assert items[0] == 0
        tethered = ShareableList(name=items.shm.name)
        tethered[-1] = 880
        assert items[-1] == 880
        tethered.shm.close()
    finally:
        twin.shm.close()
        twin.shm.unlink()
        items.shm.close()
        items.shm.unlink()
    empty = ShareableList()
    try:
        assert len(empty) == 0
        assert empty.format == ""
        assert empty.count(None) == 0
        with pytest.raises(ValueError, match="not in"):
            empty.index(None)
    finally:
        empty.shm.close()
        empty.shm.unlink()


def test_shareable_list_strings_and_nuls() -> None:
    items = ShareableList(["é" * 7, b"ab\0\0", "x\0", b""])
    try:
        # A slot holds the whole UTF-8 encoding (14 bytes here), never a truncation.
        assert items[0] == "é" * 7
        # Trailing NUL bytes are padding, as in 3.14: they are not kept.
        assert items[1] == b"ab"
        assert items[2] == "x"
        assert items[3] == b""
        assert items.format == "16s8s8s8s"
        encoded = ShareableList(["encodés"])  # 7 characters, 8 bytes: 3.14 sizes it 8s
        assert encoded.format == "8s"
        assert encoded[0] == "encodés"
        encoded.shm.close()
        encoded.shm.unlink()
    finally:
        items.shm.close()
        items.shm.unlink()


def test_shareable_list_bad_items_leave_no_segment(made: list[str]) -> None:
    with pytest.raises(TypeError, match="ShareableList items"):
        ShareableList([1, [2]])
    with pytest.raises(TypeError, match="ShareableList items"):
        ShareableList([1.5, object()])
    import struct

    with pytest.raises(struct.error):
        ShareableList([1 << 70])
    assert len(made) == 1  # made, then removed when the value did not fit
    assert _none_left(made)


def test_shareable_list_pickles_by_name(ctx: Any) -> None:
    items = ShareableList([1, "two", b"three", None, 4.5, True])
    try:
        sizes = set()
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
            data = pickle.dumps(items, protocol)
            sizes.add(len(data))
            twin = pickle.loads(data)
            assert twin is not items
            assert twin.shm.name == items.shm.name
            twin.shm.close()
        child = ctx.Process(target=_shm_targets.change_list, args=(items,))
        child.start()
        child.join()
        assert child.exitcode == 0
        assert list(items) == [-1, "dos", b"three", 99, 4.5, True]
        data = pickle.dumps(items)
    finally:
        items.shm.close()
        items.shm.unlink()
    with pytest.raises(FileNotFoundError):
        pickle.loads(data)


def test_random_names_do_not_repeat() -> None:
    names = {_shared_memory._make_filename() for _ in range(200)}
    assert len(names) == 200
    assert all(len(name) <= _shared_memory._SHM_SAFE_NAME_LENGTH for name in names)
    assert all(name.startswith("/psm_") for name in itertools.islice(names, 5))


def test_public_module() -> None:
    assert check_public_surface(shared_memory, "multiprocessing.shared_memory") == []
    assert SharedMemory.__module__ == "treadle.multiprocessing.shared_memory"
