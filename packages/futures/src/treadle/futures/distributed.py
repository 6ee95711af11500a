"""``treadle.futures.distributed``: the Executor contract on a Dask ``distributed`` cluster.

Needs the ``[distributed]`` extra (``pip install 'treadle-futures[distributed]'``); Dask's
``distributed`` is imported when an executor is made, not when this module is.
"""

from __future__ import annotations

from ._distributed import BrokenCluster, DistributedExecutor

__all__ = ["BrokenCluster", "DistributedExecutor"]

# publish() renames what this module's own submodules define; these come from a sibling.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name
