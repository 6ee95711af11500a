"""The event scheduler: a heap of events with lazy deletion.

``cancel`` does not search the heap: it forgets the event in a dictionary of live events
keyed by its sequence number (unique within a scheduler), in O(1). A cancelled event stays
in the heap until it reaches the top, where ``run`` (or ``queue``) discards it; when
cancelled entries make up more than half of the heap it is rebuilt from the live events,
so the heap never holds more than twice the live events and the cost stays amortised
O(log n) per event.

The heap holds plain tuples with the event's fields, and the dictionary the ``Event``
objects made from them (the tuple that ``Event`` is built from is kept, not thrown
away): ``run`` then unpacks an exact tuple, which the interpreter does much faster than
it indexes or unpacks a tuple subclass.

Every method takes the scheduler's lock (an ``RLock`` from ``treadle.threading``), so
several threads may enter, cancel and run at once; actions and the delay function run
with the lock released.
"""

from __future__ import annotations

from collections.abc import Callable
from heapq import heapify, heappop, heappush
from itertools import count
from time import monotonic, sleep
from typing import Any, NamedTuple

from treadle.threading import RLock

__all__ = ["Event", "scheduler"]


class Event(NamedTuple):
    """A scheduled event, as returned by ``enter``/``enterabs``.

    Events order by time, then priority (lower first), then order of entry.
    """

    time: float
    priority: Any
    sequence: int
    action: Callable[..., Any]
    argument: tuple[Any, ...]
    kwargs: dict[str, Any]


# What the heap holds: the fields of an Event, as an exact tuple.
_Entry = tuple[float, Any, int, Callable[..., Any], tuple[Any, ...], dict[str, Any]]

_NO_KWARGS: Any = object()
_make_event = tuple.__new__


class scheduler:  # the stdlib's name
    """Run events at given times, one after the other.

    *timefunc* returns the current time (any unit, a number); *delayfunc* waits for a
    time in the same unit. ``run`` calls ``delayfunc(0)`` after each event so that other
    threads get a chance to run.
    """

    def __init__(
        self,
        timefunc: Callable[[], float] = monotonic,
        delayfunc: Callable[[float], object] = sleep,
    ) -> None:
        if not callable(timefunc):
            raise TypeError(f"'timefunc' must be callable, not {type(timefunc).__name__}")
        if not callable(delayfunc):
            raise TypeError(f"'delayfunc' must be callable, not {type(delayfunc).__name__}")
        self.timefunc = timefunc
        self.delayfunc = delayfunc
        self._heap: list[_Entry] = []
        self._live: dict[int, Event] = {}
        self._dead = 0  # cancelled events still in the heap
        self._lock = RLock()
        self._sequence_generator = count()

    def enterabs(
        self,
        time: float,
        priority: Any,
        action: Callable[..., Any],
        argument: tuple[Any, ...] = (),
        kwargs: dict[str, Any] = _NO_KWARGS,
    ) -> Event:
        """Schedule ``action(*argument, **kwargs)`` at absolute *time*; return the event.

        Events at the same time run in order of *priority* (lower first), then in the
        order they were entered. The event can be passed to ``cancel``.
        """
        if kwargs is _NO_KWARGS:
            kwargs = {}
        with self._lock:
            sequence = next(self._sequence_generator)
            entry = (time, priority, sequence, action, argument, kwargs)
            event: Event = _make_event(Event, entry)
            heappush(self._heap, entry)
            self._live[sequence] = event
        return event

    def enter(
        self,
        delay: float,
        priority: Any,
        action: Callable[..., Any],
        argument: tuple[Any, ...] = (),
        kwargs: dict[str, Any] = _NO_KWARGS,
    ) -> Event:
        """Schedule an event *delay* time units from now (see ``enterabs``)."""
        if kwargs is _NO_KWARGS:
            kwargs = {}
        time = self.timefunc() + delay
        with self._lock:
            sequence = next(self._sequence_generator)
            entry = (time, priority, sequence, action, argument, kwargs)
            event: Event = _make_event(Event, entry)
            heappush(self._heap, entry)
            self._live[sequence] = event
        return event

    def cancel(self, event: Event) -> None:
        """Remove *event* from the queue. ValueError if it is not in the queue."""
        with self._lock:
            try:
                sequence = event[2]
                live = self._live[sequence]
            except (TypeError, IndexError, KeyError):
                raise ValueError(f"{event!r} is not in the scheduler's queue") from None
            if live is not event and live != event:
                raise ValueError(f"{event!r} is not in the scheduler's queue")
            del self._live[sequence]
            self._dead += 1
            heap = self._heap
            if self._dead > 32 and self._dead * 2 > len(heap):
                heap[:] = map(tuple, self._live.values())
                heapify(heap)
                self._dead = 0

    def empty(self) -> bool:
        """Return True if no event is waiting to run."""
        with self._lock:
            return not self._live

    def run(self, blocking: bool = True) -> float | None:
        """Run every event as its time comes, until the queue is empty.

        With *blocking* false, run the events whose time has come and return the delay
        until the next one (None if there is none). An exception raised by an action
        propagates; the events left stay scheduled.
        """
        # One loop, everything it reads bound to a local: per event it takes the lock,
        # drops cancelled entries met at the top of the heap, and either takes the first
        # event off (its time has come) or learns how long to wait for it.
        lock, heap, live = self._lock, self._heap, self._live
        clock, pause = self.timefunc, self.delayfunc
        while True:
            with lock:
                while heap:
                    when, _, sequence, action, argument, kwargs = heap[0]
                    if not self._dead or sequence in live:
                        break
                    heappop(heap)
                    self._dead -= 1
                else:
                    return None
                wait = when - clock()
                if wait <= 0:
                    # Off the heap before the lock is dropped: nobody else runs it.
                    heappop(heap)
                    del live[sequence]
            if wait <= 0:
                action(*argument, **kwargs)
                pause(0)  # let other threads run
            elif blocking:
                pause(wait)  # then look again: an earlier event may have come in
            else:
                return wait

    @property
    def queue(self) -> list[Event]:
        """The events not run yet, in the order they will run (a new list)."""
        with self._lock:
            return sorted(self._live.values())
