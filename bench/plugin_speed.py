"""The pytest plugin's speed: DAG check items per second on generated DAG files, with and without xdist.

Generates N DAG files (default 1,000; B3's generator: 10 tasks each, chains and
fan-out/fan-in, in 10 sub-folders) and runs, each in a fresh process:

* ``pytest --windvane-dags=DIR DIR`` (items: 4 per file + 3 per DAG + 1 folder check);
* the same with ``-n 2`` (pytest-xdist: one worker parses the folder, both run their share);
* ``windvane dags check DIR`` (the same checks without pytest).

Wall time includes interpreter start, collection (which parses every file, each in its own
forked process) and the run.

    .venv/bin/python bench/plugin_speed.py [--files 1000] [--tasks 10] [--processes 2] [--no-xdist]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import table
from b3_parse import generate

VENV_BIN = Path(sys.executable).parent


def _run(command: list[str], cwd: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    return time.monotonic() - started, done.stdout + done.stderr


def _pytest(folder: Path, processes: int, extra: list[str]) -> tuple[float, int, str]:
    command = [
        sys.executable,
        "-m",
        "pytest",
        f"--windvane-dags={folder}",
        str(folder),
        f"--windvane-parse-processes={processes}",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(folder.parent),
        *extra,
    ]
    seconds, out = _run(command, folder.parent)
    found = re.search(r"(\d+) passed", out)
    if found is None or "failed" in out.splitlines()[-1]:
        raise SystemExit(f"pytest did not pass:\n{out[-3000:]}")
    return seconds, int(found.group(1)), out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--processes", type=int, default=2, help="parsing processes per pytest process")
    parser.add_argument("--no-xdist", action="store_true")
    args = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dags"
        folder.mkdir()
        generate(folder, args.files, args.tasks)
        seconds, items, _ = _pytest(folder, args.processes, [])
        rows.append(["pytest", items, seconds, items / seconds])
        if not args.no_xdist:
            seconds, items, _ = _pytest(folder, args.processes, ["-n", "2"])
            rows.append(["pytest -n 2", items, seconds, items / seconds])
        check = [
            str(VENV_BIN / "windvane"),
            "dags",
            "check",
            str(folder),
            "--parse-processes",
            str(args.processes),
        ]
        seconds, out = _run(check, Path(tmp))
        found = re.search(r"(\d+) checks", out)
        checks = int(found.group(1)) if found else 0
        rows.append(["windvane dags check", checks, seconds, checks / seconds])
    print(
        table(
            f"DAG checks on {args.files} generated files ({args.tasks} tasks each), "
            f"{args.processes} parsing processes per pytest process",
            ["runner", "items", "wall s", "items/s"],
            rows,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
