"""Run every runtime benchmark in one go and print their tables (``make bench``).

Each script is repeatable on its own (see its ``--help``); this runs them one after the other, on
SQLite and PostgreSQL, with their defaults (the metrics overhead with two rounds a database, the idle
scheduler at 10 and 10,000 DAGs). ``--scale`` adds the scale proofs, many minutes each:
``scale_proof.py`` (100 runs x 1,000 task instances a database) and ``scale_dag_files.py`` (a folder of
10,000 DAG files, the DAG processor and the scheduler together).
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
    ["b_metrics_parts.py"],
]


#: Run only with ``--scale``.
SCALE = [["scale_proof.py"], ["scale_dag_files.py"]]


def main() -> int:
    failed = 0
    scripts = SCRIPTS + (SCALE if "--scale" in sys.argv[1:] else [])
    for name, *args in scripts:
        print(f"\n=== {name} {' '.join(args)}".rstrip(), flush=True)
        failed += subprocess.call([sys.executable, str(HERE / name), *args]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
