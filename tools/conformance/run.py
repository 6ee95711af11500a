"""Run CPython's own regression tests against the stdlib and against treadle.

    python tools/conformance/run.py TARGET [TARGET ...] [--python 3.10 ...] [--json FILE]
                                    [--timeout SECONDS] [--only TESTMODULE]

See README.md beside this file. Needs Python 3.11+ itself; drives 3.10-3.14.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tools.conformance._cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
