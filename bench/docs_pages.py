"""How long the docs harness takes: each page's shell blocks run as ``tests/docs`` runs them.

For every page with runnable blocks, a fresh session (``tests.docs.shell.Session``) runs
them in order; the table shows wall time, the CPU time of the commands (children's user +
system: what the page costs on an idle machine) and the number of blocks. Target: the
whole harness under 60 s.

    .venv/bin/python bench/docs_pages.py
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import table
from tests.docs.shell import REPO, Session
from tests.docs.test_pages import PAGES, runnable


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    rows: list[list[object]] = []
    total_wall = total_cpu = 0.0
    for page in PAGES:
        blocks = runnable(page)
        if not blocks:
            continue
        with tempfile.TemporaryDirectory() as root:
            cpu, started = _children_cpu(), time.monotonic()
            session = Session(Path(root))
            for block in blocks:
                session.run(block)
            wall, cpu = time.monotonic() - started, _children_cpu() - cpu
        total_wall, total_cpu = total_wall + wall, total_cpu + cpu
        rows.append([str(page.relative_to(REPO)), len(blocks), f"{wall:.1f}", f"{cpu:.1f}"])
    rows.append(["total", "", f"{total_wall:.1f}", f"{total_cpu:.1f}"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(table(f"docs harness (load average {load})", ["page", "blocks", "wall s", "CPU s"], rows))


if __name__ == "__main__":
    main()
