"""What this process is: the main one, or a process-backed interpreter.

Set by the child's start-up before anything else of the package runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["child_id", "child_store", "parent_link"]

child_id: int | None = None  # this process's interpreter id, when it is a child
child_store: Any = None  # the queue store that asks the parent
parent_link: Any = None  # the child's connection to its parent
