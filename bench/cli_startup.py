"""CLI start-up: how long ``windvane <command>`` takes, end to end, and which imports cost most.

Runs each command N times (default 15) in a fresh interpreter, as the console
script does (``from windvane.cli.main import main``), against a temporary
``WINDVANE_HOME`` whose SQLite database is migrated and holds a few parsed DAGs,
and prints median and p90 wall time (and the median CPU time, user + system, which
the machine's load barely moves) per command with the target (issue 13:
``--version``/``--help`` <= 0.15 s, ``dags list`` <= 0.4 s). Then ``-X importtime``
of ``--version`` and ``dags list``: self time summed per top-level package, the
largest first.

    .venv/bin/python bench/cli_startup.py [-n 15] [--src DIR] [--before DIR]

``--src DIR`` measures another checkout's ``src`` with this environment's
dependencies. ``--before DIR`` compares: each command runs alternately from
``DIR`` (e.g. ``git archive main | tar -x -C /tmp/before``, then ``--before
/tmp/before/src``) and from this checkout, in one sitting, and the table shows
both side by side with the ratio of their CPU times. The machine's load changes
every wall time: read the medians, and the CPU times, which it barely moves.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, pct, table

ENTRY = "import sys; from windvane.cli.main import main; sys.exit(main())"
#: (command line, target seconds or None)
COMMANDS: list[tuple[list[str], float | None]] = [
    (["--version"], 0.15),
    (["--help"], 0.15),
    (["dags", "--help"], 0.15),
    (["dags", "list"], 0.4),
    (["dags", "list", "-o", "json"], None),
    (["dags", "list-runs", "bench_dag_0"], None),
    (["dags", "list-import-errors"], None),
    (["tasks", "list", "bench_dag_0"], None),
    (["config", "get", "core.executor"], None),
]
DAG_FILE = """\
import pendulum
from windvane import DAG, BashOperator

with DAG("bench_dag_{i}", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1), catchup=False):
    BashOperator(task_id="a", bash_command="true") >> BashOperator(task_id="b", bash_command="true")
"""


def _env(home: Path, src: Path | None) -> dict[str, str]:
    env = {**os.environ, "WINDVANE_HOME": str(home)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def _run(
    args: list[str], env: dict[str, str], *, flags: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", ENTRY, *args], env=env, capture_output=True, text=True, check=False
    )


def _prepare(home: Path, env: dict[str, str]) -> None:
    (home / "dags").mkdir(parents=True)
    for i in range(3):
        (home / "dags" / f"bench_dag_{i}.py").write_text(DAG_FILE.format(i=i))
    for step in (["db", "migrate"], ["dag-processor", "-n", "1"]):
        done = _run(step, env)
        if done.returncode != 0:
            raise SystemExit(f"setup step {' '.join(step)} failed:\n{done.stderr}")


def _time_baseline(env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """The interpreter alone (``python -c pass``): what no import change can save, and a load gauge."""
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), _children_cpu()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - start_cpu)
    return times, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(args: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (user + system) of ``runs`` runs: CPU time barely moves with the
    machine's load, wall time does."""
    times, cpu = [], []
    for _ in range(runs):
        wall, used = _once(args, env)
        times.append(wall)
        cpu.append(used)
    return times, cpu


def _once(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    start, start_cpu = time.perf_counter(), _children_cpu()
    done = _run(args, env)
    wall, used = time.perf_counter() - start, _children_cpu() - start_cpu
    if done.returncode != 0:
        raise SystemExit(f"windvane {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return wall, used


def _compare(home: Path, args: argparse.Namespace) -> None:
    """Each command from ``--before`` and from this checkout, alternately, side by side."""
    before_env, after_env = _env(home, args.before), _env(home, args.src)
    rows: list[list[object]] = []
    for command, target in COMMANDS:
        samples: dict[str, tuple[list[float], list[float]]] = {"before": ([], []), "after": ([], [])}
        for _ in range(args.runs):
            for name, env in (("before", before_env), ("after", after_env)):
                wall, used = _once(command, env)
                samples[name][0].append(wall)
                samples[name][1].append(used)
        (b_wall, b_cpu), (a_wall, a_cpu) = samples["before"], samples["after"]
        verdict = "-" if target is None else ("ok" if median(a_wall) <= target else "OVER")
        ratio = median(a_cpu) / median(b_cpu) if median(b_cpu) else float("nan")
        rows.append(["windvane " + " ".join(command), median(b_wall), median(b_cpu), median(a_wall),
                     median(a_cpu), ratio, target or "-", verdict])  # fmt: skip
    title = f"CLI before/after, seconds ({args.runs} runs each, alternating; load {os.getloadavg()[0]:.1f})"
    header = [
        "command",
        "before wall",
        "before cpu",
        "after wall",
        "after cpu",
        "cpu after/before",
        "target",
        "",
    ]
    print(table(title, header, rows))


def _import_offenders(args: list[str], env: dict[str, str], top: int) -> list[tuple[str, float, int]]:
    """``(package, self ms, modules)`` summed over ``-X importtime``, the largest first."""
    done = _run(args, env, flags=("-X", "importtime"))
    total: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        package = name.split(".")[0]
        total[package] += int(self_us) / 1000
        count[package] += 1
    ranked = sorted(total.items(), key=lambda item: -item[1])[:top]
    return [(package, ms, count[package]) for package, ms in ranked]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", "--runs", type=int, default=15, help="Runs per command (default 15).")
    parser.add_argument("--src", type=Path, help="Measure this source folder instead of the installed one.")
    parser.add_argument("--top", type=int, default=8, help="Packages listed per import profile (default 8).")
    parser.add_argument("--before", type=Path, help="Compare with this source folder, side by side.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        env = _env(home, args.src)
        _prepare(home, env)
        if args.before is not None:
            _compare(home, args)
            print()
        base, base_cpu = _time_baseline(env, args.runs)
        rows: list[list[object]] = [
            ["python -c pass (baseline)", median(base), pct(base, 90), median(base_cpu), "-", "-"]
        ]
        for command, target in COMMANDS:
            times, cpu = _time(command, env, args.runs)
            verdict = "-" if target is None else ("ok" if median(times) <= target else "OVER")
            name = "windvane " + " ".join(command)
            rows.append([name, median(times), pct(times, 90), median(cpu), target or "-", verdict])
        print(table(f"CLI wall time, seconds ({args.runs} runs each; load {os.getloadavg()[0]:.1f})",
                    ["command", "median", "p90", "cpu median", "target", ""], rows))  # fmt: skip
        for command in (["--version"], ["dags", "list"]):
            offenders = _import_offenders(command, env, args.top)
            print()
            print(table(f"-X importtime, windvane {' '.join(command)}: self time per top-level package",
                        ["package", "ms", "modules"], offenders))  # fmt: skip


if __name__ == "__main__":
    main()
