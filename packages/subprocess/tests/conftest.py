"""The ``impl`` fixture: a behavioural test taking it runs on the stdlib's subprocess and
on treadle's."""

from pytest_treadle import impl_fixture

impl = impl_fixture("subprocess", "treadle.subprocess")
