"""treadle.sched offers the public names of 3.14's sched, each where it says."""

from __future__ import annotations

import pickle

from pytest_treadle import check_public_surface
from treadle import sched


def test_public_surface() -> None:
    # The stdlib's __all__ lists only "scheduler"; treadle exports Event too, which 3.14
    # offers as a public name (the type of what enter() returns).
    assert check_public_surface(sched, "sched") == []
    assert sched.__all__ == ["Event", "scheduler"]


def test_events_pickle_by_their_public_name() -> None:
    event = sched.Event(1.0, 0, 0, print, (), {})
    assert repr(sched.Event).startswith("<class 'treadle.sched.Event'")
    assert pickle.loads(pickle.dumps(event)) == event
