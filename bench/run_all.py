"""Run every runtime benchmark in one go and print their tables (``make bench``).

Each script is repeatable on its own (see its ``--help``); this runs them with their defaults, one after
the other, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["b12_local.py", "b3_parse.py", "b4_scheduler.py", "cli_startup.py"]


def main() -> int:
    failed = 0
    for name in SCRIPTS:
        print(f"\n=== {name}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
