"""Timer: a thread that calls a function once an interval has passed, unless cancelled."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from treadle.thread_core.support import check_timeout

from ._sync import Event
from ._threads import Thread

__all__ = ["Timer"]


class Timer(Thread):
    """Call ``function(*args, **kwargs)`` after *interval* seconds, unless cancelled.

    Start it with ``start()``; ``cancel()`` stops it while it is still waiting. The
    interval is a number of seconds (a negative one fires at once; None waits until
    cancelled).
    """

    def __init__(
        self,
        interval: float,
        function: Callable[..., object],
        args: Iterable[Any] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        check_timeout(interval, "interval")
        if not callable(function):
            raise TypeError(f"function must be callable, not {type(function).__name__}")
        super().__init__()
        self.interval = interval
        self.function = function
        self.args = [] if args is None else args
        self.kwargs = {} if kwargs is None else kwargs
        self.finished = Event()

    def cancel(self) -> None:
        """Stop the timer if it has not fired yet (it will not call the function)."""
        self.finished.set()

    def run(self) -> None:
        """Wait *interval* seconds, then call the function unless cancelled meanwhile."""
        cancelled = self.finished.wait(self.interval)
        try:
            if not cancelled:
                self.function(*self.args, **self.kwargs)
        finally:
            self.finished.set()
