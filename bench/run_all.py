"""Run every runtime benchmark in one go and print their tables (``make bench``).

Each script is repeatable on its own (see its ``--help``); this runs them one after the other, on
SQLite and PostgreSQL, with their defaults (the metrics overhead with two rounds a database, the idle
scheduler at 10 and 10,000 DAGs). The scale proof (``scale_proof.py``) runs for minutes and is not
part of it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
#: Each script with its arguments (the metrics overhead on both databases, fewer rounds).
SCRIPTS = [
    ["b12_local.py"],
    ["b3_parse.py"],
    ["b4_scheduler.py"],
    ["b_idle.py", "--dags", "10,10000", "--seconds", "15"],
    ["b4_scheduler.py", "--schedulers", "2"],
    ["b2_several.py", "--schedulers", "2"],
    ["cli_startup.py"],
    ["b_metrics_overhead.py", "--db", "sqlite,postgres", "--repeat", "2"],
]


def main() -> int:
    failed = 0
    for name, *args in SCRIPTS:
        print(f"\n=== {name} {' '.join(args)}".rstrip(), flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name), *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
