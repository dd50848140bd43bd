"""Parse children forked ahead of need (spares): still one file per child, the deadline counts
from the moment a spare is given its file, a spare that died is replaced, none outlives the pass."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.forking.helpers import wait_until
from tests.processor.helpers import active_ids, import_errors, simple_dag, write
from windvane.core.forking.subreaper import children_of
from windvane.core.processor import DagProcessor, pool
from windvane.core.processor.pool import decode, run_parsers
from windvane.core.processor.spare import SpareParser, fork_spare

MakeProcessor = Callable[..., DagProcessor]

#: Reports the pid of the process that parses it, so that tests can tell the children apart.
PID_DAG = """\
import os
with DAG("d_{name}", schedule=None, start_date=START, tags=[str(os.getpid())]):
    EmptyOperator(task_id="t")
"""


def _live_children() -> list[int]:
    """This process's children that have not exited (zombies are not alive)."""
    alive = []
    for pid in children_of(os.getpid()):
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z":
            alive.append(pid)
    return alive


def test_every_file_gets_a_child_of_its_own(dags_folder: Path) -> None:
    paths = [str(write(dags_folder / f"f{i}.py", PID_DAG.format(name=i))) for i in range(6)]
    results = [decode(raw) for raw in run_parsers(paths, parallelism=2, timeout=30, ahead=3)]
    assert sorted(r.path for r in results) == sorted(paths)
    pids = set()
    for result in results:
        assert result.outcome is not None, result.error
        [text] = result.outcome.dags
        pids.add(text.split('"tags":["')[1].split('"')[0])
    assert len(pids) == 6 and str(os.getpid()) not in pids


def test_a_spares_deadline_counts_from_when_it_is_given_its_file(dags_folder: Path) -> None:
    """The second file's child is forked while the first one runs; had its deadline started at
    that fork, the two sleeps (5 s) would pass it (4 s)."""
    sleeper = "import time\ntime.sleep(2.5)\n"
    paths = [str(write(dags_folder / f"slow{i}.py", sleeper + simple_dag(f"slow{i}"))) for i in range(2)]
    results = [decode(raw) for raw in run_parsers(paths, parallelism=1, timeout=4.0, ahead=1)]
    assert [r.error for r in results] == [None, None]
    assert all(2.5 <= r.duration < 4.0 for r in results), [r.duration for r in results]


def test_a_spare_given_a_file_that_hangs_is_killed_at_its_deadline(dags_folder: Path) -> None:
    good = str(write(dags_folder / "good.py", simple_dag("good")))
    hang = str(write(dags_folder / "hang.py", "import time\nwhile True:\n    time.sleep(60)\n"))
    results = {r.path: r for r in map(decode, run_parsers([good, hang], parallelism=1, timeout=1.0, ahead=1))}
    assert results[good].error is None
    assert results[hang].timed_out and "timed out after 1 s" in (results[hang].error or "")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
def test_a_spare_that_died_before_its_file_came_is_replaced(
    dags_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed: list[int] = []

    def dying_spare(**options: object) -> SpareParser:
        made = fork_spare(**options)  # type: ignore[arg-type]
        if not killed:  # the first spare dies before it is given a file
            os.kill(made.child.pid, signal.SIGKILL)
            made.child.poll(block=True)
            killed.append(made.child.pid)
        return made

    monkeypatch.setattr(pool, "fork_spare", dying_spare)
    paths = [str(write(dags_folder / f"f{i}.py", simple_dag(f"f{i}"))) for i in range(3)]
    results = [decode(raw) for raw in run_parsers(paths, parallelism=1, timeout=30, ahead=1)]
    assert killed and [r.error for r in results] == [None, None, None]


def test_assigning_a_dead_spare_says_so_and_cancel_ends_it() -> None:
    made = fork_spare()
    os.kill(made.child.pid, signal.SIGKILL)
    made.child.poll(block=True)
    assert made.assign("/nowhere.py", 30.0) is False
    made.cancel()
    assert made.child.read_fd == -1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
def test_no_spare_outlives_a_pass_closed_early(dags_folder: Path) -> None:
    paths = [str(write(dags_folder / f"f{i}.py", simple_dag(f"f{i}"))) for i in range(6)]
    before = set(_live_children())  # e.g. an idle parse template kept from an earlier test
    results = run_parsers(paths, parallelism=1, timeout=30, ahead=3)
    first = next(results)
    assert first.payload is not None
    assert set(_live_children()) - before, "expected spares waiting for their files"
    results.close()
    assert wait_until(lambda: not set(_live_children()) - before, timeout=10), _live_children()


def test_a_spare_cancelled_before_its_file_came_exits_without_reporting() -> None:
    made = fork_spare()
    made.cancel()
    assert made.child.exited and made.child.payload is None


def test_spares_are_not_forked_beyond_the_files_left(
    dags_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked: list[SpareParser] = []

    def counting(**options: object) -> SpareParser:
        forked.append(fork_spare(**options))  # type: ignore[arg-type]
        return forked[-1]

    monkeypatch.setattr(pool, "fork_spare", counting)
    paths = [str(write(dags_folder / f"f{i}.py", simple_dag(f"f{i}"))) for i in range(3)]
    assert len(list(run_parsers(paths, parallelism=2, timeout=30, ahead=4))) == 3
    assert len(forked) == 1  # two children parse at once; one file was left to prepare for


def test_a_path_that_is_not_utf8_reaches_its_spare_intact(tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    path = str(write(folder / "d.py", simple_dag("latin")))
    made = fork_spare()
    assert made.assign(path, 30.0)
    assert wait_until(made.child.read, timeout=30)
    made.child.poll(block=True)
    made.child.end()
    result = decode(pool.RawResult(path, 0.0, made.child.payload, None, False))
    # Such a path cannot even be compiled as a file name; the error names it as it was given.
    assert result.error is not None and result.error.startswith(f"{path}: ")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os\nos._exit(0)\n", "exited with code 0 before reporting"),
        ("import sys\nsys.exit(3)\n", "SystemExit: 3"),
    ],
)
def test_a_file_that_exits_is_an_import_error_naming_it_through_the_template(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, code: str, expected: str
) -> None:
    write(dags_folder / "leaves.py", code)  # the header names DAG and windvane: not skipped in safe mode
    for name in ("a", "b", "c"):
        write(dags_folder / f"{name}.py", simple_dag(name))
    processor = make_processor(template_min_files=0, parsing_processes=2)
    report = processor.run_once()
    assert processor.template_failure is None
    errors = import_errors(engine)
    leaves = str(dags_folder / "leaves.py")
    assert set(errors) == {leaves} and expected in errors[leaves], errors
    assert report.failed == 1 and active_ids(engine) == {"a", "b", "c"}


def test_what_a_dag_file_prints_reaches_the_parse_log_through_the_template(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, tmp_path: Path
) -> None:
    log = tmp_path / "parse.log"
    write(dags_folder / "talks.py", 'import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n'
          + simple_dag("talks"))  # fmt: skip
    write(dags_folder / "odd.py", 'print("\\udcff surrogate")\n' + simple_dag("odd"))
    processor = make_processor(template_min_files=0, parse_log=str(log))
    assert processor.run_once().failed == 0, import_errors(engine)
    assert processor.template_failure is None
    text = log.read_text(errors="replace")
    assert "to stdout" in text and "to stderr" in text and "surrogate" in text
    assert active_ids(engine) == {"talks", "odd"}
