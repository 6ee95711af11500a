"""treadle.multiprocessing.spawn: what a new child learns of its parent, and its start."""

from ._native import publish as _publish
from ._spawn import _old_main_modules as old_main_modules  # noqa: F401
from ._spawn import (
    freeze_support,
    get_command_line,
    get_executable,
    get_preparation_data,
    import_main_path,
    is_forking,
    prepare,
    set_executable,
    spawn_main,
)

__all__ = [
    "freeze_support",
    "get_command_line",
    "get_executable",
    "get_preparation_data",
    "import_main_path",
    "is_forking",
    "prepare",
    "set_executable",
    "spawn_main",
]

_publish(globals())
