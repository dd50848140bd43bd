"""Compare one benchmark under a base git revision and under the working tree, side by side.

The base revision is checked out with ``git worktree add`` into a temporary folder (removed at the
end); each side runs its own copy of the script with ``PYTHONPATH=<tree>/src``, in this interpreter.
Runs alternate base/work, base/work... for ``--rounds`` rounds, so a machine that slows down or
speeds up during the comparison affects both sides alike. Every table the script prints (title,
header, a dashed rule, rows) is read back: the leading non-numeric columns name a row (``db``,
``shape``...), every numeric column is a measure. The result shows, per row and measure, each
side's median with its min-max over the rounds and the ratio work / base of the medians. A last
table, ``process``, gives each run's wall time and the CPU seconds of the bench process and its
children (workers, task processes; not a database server's), steadier than wall times on a busy
machine.

    python bench/compare_revisions.py --base ff837e1 --rounds 4 b4_scheduler.py --db sqlite --runs 5
    python bench/compare_revisions.py --rounds 3 --keep /tmp/out b12_local.py --db postgres --chain 10
    python bench/compare_revisions.py --base main --work-script b_celery.py --executors celery

``--work-script`` runs the working tree's copy of the script on both sides (for a script that
gained columns or options; the code measured is still each side's own).

Everything after the script's name is passed to it. Exit code 1 if a run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _common import table

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
_RULE = re.compile(r"^-+(?:  -+)*$")
_NUMBER = re.compile(r"^[+-]?[\d,]*\.?\d+(?:[eE][+-]?\d+)?$")

#: (table title, row key) -> measure -> side -> values
Results = dict[tuple[str, tuple[str, ...]], dict[str, dict[str, list[float]]]]


def parse_tables(text: str) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every table in ``text`` as (title, header, rows), cells cut at the dashed rule's columns."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if i < 1 or not _RULE.match(line.rstrip()):
            continue
        starts = [m.start() for m in re.finditer(r"-+", line)]
        bounds = list(zip(starts, [*starts[1:], None], strict=True))

        def cells(row: str, bounds: list[tuple[int, int | None]] = bounds) -> list[str]:
            return [row[a:b].strip() for a, b in bounds]

        rows = []
        for row in lines[i + 1 :]:
            if not row.strip() or _RULE.match(row.rstrip()):
                break
            rows.append(cells(row))
        title = lines[i - 2].strip() if i >= 2 else ""
        found.append((title, cells(lines[i - 1]), rows))
    return found


def number(cell: str) -> float | None:
    return float(cell.replace(",", "")) if _NUMBER.match(cell) else None


def collect(results: Results, side: str, output: str) -> None:
    for title, header, rows in parse_tables(output):
        for row in rows:
            width = next((k for k, cell in enumerate(row) if number(cell) is not None), len(row))
            key = tuple(row[:width])
            for name, cell in zip(header[width:], row[width:], strict=True):
                value = number(cell)
                if value is not None:
                    results.setdefault((title, key), {}).setdefault(name, defaultdict(list))[side].append(
                        value
                    )


def run_side(
    tree: Path, script: str, args: list[str], timeout: float, *, bench: Path | None = None
) -> tuple[str, float, float]:
    """The script's output, its wall seconds and the CPU seconds it and its children used (the
    script from ``bench``, by default the tree's own bench folder)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str((bench or tree / "bench") / script), *args],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{script} in {tree} exited with {done.returncode}:\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, wall, cpu


def check_imports(tree: Path) -> None:
    """Fail unless ``PYTHONPATH=<tree>/src`` makes this interpreter import windvane from ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    where = subprocess.run(
        [sys.executable, "-c", "import windvane; print(windvane.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not Path(where).resolve().is_relative_to((tree / "src").resolve()):
        raise RuntimeError(f"with PYTHONPATH={tree / 'src'} windvane is imported from {where}")


def report(results: Results, base: str) -> str:
    rows: list[list[object]] = []
    for (title, key), measures in results.items():
        for name, sides in measures.items():
            a, b = sides.get("base", []), sides.get("work", [])
            if not a or not b:
                continue
            ma, mb = statistics.median(a), statistics.median(b)
            rows.append(
                [
                    title[:24],
                    " ".join(key),
                    name,
                    _fmt(ma),
                    f"{_fmt(min(a))}-{_fmt(max(a))}",
                    _fmt(mb),
                    f"{_fmt(min(b))}-{_fmt(max(b))}",
                    f"{mb / ma:.3f}" if ma else "-",
                ]
            )
    header = ["table", "row", "measure", f"{base} med", "range", "work med", "range", "work/base"]
    return table(f"base {base} vs working tree (medians over rounds)", header, rows)


def _fmt(value: float) -> str:
    return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="HEAD", help="The git revision to compare against (default HEAD).")
    parser.add_argument("--rounds", type=int, default=3, help="Base/work pairs to run (default 3).")
    parser.add_argument("--timeout", type=float, default=1800, help="Seconds one run may take.")
    parser.add_argument("--keep", type=Path, help="Save each run's output in this folder.")
    parser.add_argument(
        "--work-script",
        action="store_true",
        help="Run the working tree's copy of the script on both sides (new columns, same code paths).",
    )
    parser.add_argument("script", help="The bench script, e.g. b4_scheduler.py.")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="Its arguments.")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"argument --rounds: must be 1 or more, got {args.rounds}")
    if not (HERE / args.script).is_file():
        parser.error(f"argument script: no {args.script} in {HERE}")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    results: Results = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the temporary worktree is removed
    with tempfile.TemporaryDirectory(prefix="wv-base-") as tmp:
        base_tree = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(base_tree), args.base],
            check=True,
        )
        try:
            for tree in (base_tree, REPO):
                check_imports(tree)
            for round_no in range(1, args.rounds + 1):
                for side, tree in (("base", base_tree), ("work", REPO)):
                    bench = HERE if args.work_script else None
                    output, wall, cpu = run_side(tree, args.script, args.args, args.timeout, bench=bench)
                    print(
                        f"round {round_no} {side}: {wall:.1f} s, cpu {cpu:.1f} s", file=sys.stderr, flush=True
                    )
                    if args.keep is not None:
                        (args.keep / f"{round_no:02d}-{side}.txt").write_text(output)
                    collect(results, side, output)
                    process = results.setdefault(("process", (args.script,)), {})
                    process.setdefault("wall s", defaultdict(list))[side].append(wall)
                    process.setdefault("cpu s", defaultdict(list))[side].append(cpu)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            subprocess.run(
                ["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], check=False
            )
    print(report(results, args.base))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
