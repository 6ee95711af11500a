"""SharedMemoryManager: a manager whose shared-memory segments are unlinked at shutdown."""

# ruff: noqa: PLC0415 - imports inside functions are deliberate (spawned children)

from __future__ import annotations

from ._managers import BaseManager, Server, dispatch

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

__all__ = ["SharedMemoryManager", "SharedMemoryServer"]


class SharedMemoryServer(Server):
    """A manager server that also tracks shared-memory segments, unlinked when it stops."""

    public: tuple[str, ...] = (*Server.public, "track_segment", "release_segment", "list_segments")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """As :class:`Server`; no segment is tracked yet."""
        super().__init__(*args, **kwargs)
        self.segment_names: list[str] = []

    def track_segment(self, c: Any, segment_name: str) -> None:
        """Unlink segment *segment_name* when the server stops."""
        with self.mutex:
            self.segment_names.append(segment_name)

    def release_segment(self, c: Any, segment_name: str) -> None:
        """Unlink segment *segment_name* now, and stop tracking it."""
        with self.mutex:
            if segment_name not in self.segment_names:
                return
            self.segment_names.remove(segment_name)
        _unlink_segment(segment_name)

    def list_segments(self, c: Any) -> list[str]:
        """Return the names of the tracked segments."""
        with self.mutex:
            return list(self.segment_names)

    def shutdown(self, c: Any) -> object:
        """Unlink every tracked segment, then stop as :meth:`Server.shutdown`."""
        self._on_stop()
        return super().shutdown(c)

    def _on_stop(self) -> None:
        with self.mutex:
            names, self.segment_names = self.segment_names, []
        for name in names:
            _unlink_segment(name)


def _unlink_segment(name: str) -> None:
    from ._shared_memory import SharedMemory

    try:
        segment = SharedMemory(name)
    except FileNotFoundError:
        return
    segment.close()
    segment.unlink()


class SharedMemoryManager(BaseManager):
    """A manager whose ``SharedMemory`` and ``ShareableList`` segments it unlinks at shutdown."""

    _Server = SharedMemoryServer

    def _track(self, name: str, segment: Any) -> None:
        conn = self._Client(self._address, authkey=self._authkey)
        try:
            dispatch(conn, None, "track_segment", (name,))
        except BaseException:
            segment.close()
            segment.unlink()
            raise
        finally:
            conn.close()

    def SharedMemory(self, size: int) -> Any:
        """Create a segment of *size* bytes, freed when the manager shuts down."""
        from ._shared_memory import SharedMemory

        segment = SharedMemory(None, create=True, size=size)
        self._track(segment.name, segment)
        return segment

    def ShareableList(self, sequence: Iterable[Any] | None) -> Any:
        """Create a ``ShareableList`` of *sequence*, freed when the manager shuts down."""
        from ._shared_memory import ShareableList

        shared = ShareableList(sequence)
        self._track(shared.shm.name, shared.shm)
        return shared
