"""The parse template: a lean process forks the parse children; the processor survives its death."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.processor.helpers import active_ids, import_errors, simple_dag, write
from windvane.core.authoring.defaults import get_authoring_defaults
from windvane.core.processor import DagProcessor, template_client
from windvane.core.processor.template_client import ParseTemplate
from windvane.core.processor.template_wire import TemplateSetup

MakeProcessor = Callable[..., DagProcessor]

KILLS_ITS_PARENT = """\
import os, signal
os.kill(os.getppid(), signal.SIGKILL)
"""


def _setup() -> TemplateSetup:
    return TemplateSetup(sys_path=(), cwd="/", authoring=get_authoring_defaults(), containment="group")


def _template_of(processor: DagProcessor) -> ParseTemplate:
    """The template the processor's last pass used (released to the idle pool after it)."""
    found = [t for t in template_client.idle_templates() if t.setup.log_path == processor.parse_log]
    assert found, "no idle parse template after a pass"
    return found[-1]


def test_children_are_forked_from_a_template_without_the_store(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    # A file that fails if it was forked from a process holding SQLAlchemy (the processor).
    write(dags_folder / "lean.py", 'import sys\nassert "sqlalchemy" not in sys.modules, "forked fat"\n'
          + simple_dag("lean"))  # fmt: skip
    processor = make_processor(template_min_files=0)
    report = processor.run_once()
    assert processor.template_failure is None
    assert report.failed == 0, import_errors(engine)
    assert active_ids(engine) == {"lean"}
    template = _template_of(processor)
    assert template.alive and template.pid != os.getpid()


def test_a_file_that_kills_the_template_fails_alone_and_the_template_is_restarted(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    write(dags_folder / "killer.py", KILLS_ITS_PARENT + simple_dag("killer"))
    for name in ("a", "b", "c", "d"):
        write(dags_folder / f"{name}.py", simple_dag(name))
    processor = make_processor(parsing_processes=2, template_min_files=0)
    report = processor.run_once()
    # Killed at two template deaths, the killer is blamed; the files it took down with it are re-parsed.
    assert active_ids(engine) == {"a", "b", "c", "d"}
    errors = import_errors(engine)
    assert set(errors) == {str(dags_folder / "killer.py")}
    assert "parse template process was killed by SIGKILL" in errors[str(dags_folder / "killer.py")]
    assert report.failed == 1 and report.parsed == 5
    # The next pass has a live template again and parses a changed file with it.
    write(dags_folder / "a.py", simple_dag("a", tasks=3))
    assert processor.run_once().parsed == 1
    assert _template_of(processor).alive


def test_a_template_killed_between_passes_is_restarted(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    write(dags_folder / "a.py", simple_dag("a"))
    processor = make_processor(template_min_files=0)
    processor.run_once()
    old = _template_of(processor).pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    write(dags_folder / "b.py", simple_dag("b"))
    report = processor.run_once()
    assert report.failed == 0 and active_ids(engine) == {"a", "b"}
    assert _template_of(processor).pid not in (None, old)


def test_without_a_template_the_processor_forks_the_children_itself(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template_client, "_BOOT", "import sys; sys.exit(3)")
    monkeypatch.setattr(template_client, "_idle", {})
    write(dags_folder / "a.py", simple_dag("a"))
    processor = make_processor(template_min_files=0)
    report = processor.run_once()
    assert processor.template_failure is not None and "did not start" in processor.template_failure
    assert report.failed == 0 and active_ids(engine) == {"a"}


def test_a_small_pass_does_not_start_a_template(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(template_client, "_idle", {})
    write(dags_folder / "a.py", simple_dag("a"))
    processor = make_processor(template_min_files=2)
    processor.run_once()
    assert template_client.idle_templates() == []
    write(dags_folder / "b.py", simple_dag("b"))
    write(dags_folder / "c.py", simple_dag("c"))
    processor.run_once()
    assert [t.alive for t in template_client.idle_templates()] == [True]
    assert active_ids(engine) == {"a", "b", "c"}


def test_idle_templates_are_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(template_client, "_idle", {})
    stopped: list[ParseTemplate] = []
    monkeypatch.setattr(ParseTemplate, "alive", property(lambda self: self not in stopped))
    monkeypatch.setattr(ParseTemplate, "stop", lambda self: stopped.append(self))
    made = []
    for i in range(template_client.MAX_IDLE + 2):
        setup = dataclasses.replace(_setup(), log_path=str(tmp_path / f"log{i}"))
        made.append(ParseTemplate(setup))
        template_client.release(made[-1])
    assert stopped == made[:2]
    assert template_client.idle_templates() == made[2:]


LEAVES_A_GRANDCHILD = """\
import os, subprocess, time
MARK = {mark!r}
if not os.path.exists(MARK):  # the first parse: start a process, say who is who, then hang
    sleeper = subprocess.Popen(["sleep", "60"])
    with open(MARK + ".tmp", "w") as out:
        out.write(f"{{os.getppid()}} {{os.getpid()}} {{sleeper.pid}}")
    os.rename(MARK + ".tmp", MARK)
    time.sleep(60)
"""


def _state(pid: int) -> str | None:
    """The process state letter of ``pid`` (Z: a zombie), None when it is gone (reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].split()[0].decode()


def _children_of(parent: int) -> list[int]:
    """The pids whose parent is ``parent`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    raw = stat.read()
            except OSError:
                continue
            if int(raw[raw.rfind(b")") + 2 :].split()[1]) == parent:
                found.append(int(entry))
    return found


@pytest.fixture
def as_subreaper() -> Iterator[None]:
    """This test process adopts orphans, as the DAG processor's process does (``adopt_orphans``)."""
    from windvane.core.forking import subreaper

    if not subreaper.become_subreaper():
        pytest.skip("needs PR_SET_CHILD_SUBREAPER (Linux)")
    try:
        yield
    finally:
        assert subreaper._prctl is not None
        subreaper._prctl(36, 0, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER off again
        subreaper._subreaper = False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and the subreaper are Linux's")
def test_a_template_killed_mid_parse_leaves_no_zombie_nor_orphan_and_is_counted(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, tmp_path: Path, as_subreaper: None
) -> None:
    mark = tmp_path / "pids"
    write(dags_folder / "hangs.py", LEAVES_A_GRANDCHILD.format(mark=str(mark)) + simple_dag("hangs"))
    write(dags_folder / "a.py", simple_dag("a"))
    for name in "bcdef":  # files left to parse: the template keeps spares forked ahead for them
        write(dags_folder / f"{name}.py", simple_dag(name))
    processor = make_processor(parsing_processes=2, template_min_files=0)
    killed: list[int] = []

    def kill_the_template() -> None:
        deadline = time.monotonic() + 30
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.01)  # polls a file another process writes (a condition, with a deadline)
        template, child, sleeper = (int(p) for p in mark.read_text().split())
        killed.extend((child, sleeper))
        os.kill(template, signal.SIGKILL)

    before = set(_children_of(os.getpid()))  # earlier tests' leftovers are not this test's
    killer = threading.Thread(target=kill_the_template)
    killer.start()
    report = processor.run_once()
    killer.join(timeout=30)
    child, sleeper = killed
    # The parse child (SIGKILLed with its parent) and the process it started came to us: both ended
    # and reaped, no zombie, no orphan still running.
    assert _state(child) is None, f"parse child {child}: {_state(child)}"
    assert _state(sleeper) is None, f"its child {sleeper}: {_state(sleeper)}"
    # The spares the template had forked ahead died with it and came to us too: reaped as well.
    zombies = [pid for pid in set(_children_of(os.getpid())) - before if _state(pid) == "Z"]
    assert not zombies, f"zombie children left: {zombies}"
    assert report.template_restarts == 1
    assert report.failed == 0 and active_ids(engine) == {"a", "b", "c", "d", "e", "f", "hangs"}
    assert _template_of(processor).orphans_ended >= 1  # the sleeper at least (the child may be dead)
    assert processor.run_once().template_restarts == 0


def test_a_template_killed_between_passes_counts_as_a_restart(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    write(dags_folder / "a.py", simple_dag("a"))
    processor = make_processor(template_min_files=0)
    assert processor.run_once().template_restarts == 0
    old = _template_of(processor).pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    write(dags_folder / "b.py", simple_dag("b"))
    assert processor.run_once().template_restarts == 1


DRAWS_AND_USES_THREADS = """\
import logging, random, threading
from pathlib import Path

worker = threading.Thread(target=lambda: None)
worker.start()
worker.join()
assert threading.current_thread() is threading.main_thread()
logging.getLogger("dagfile").warning("parsed")
(Path(__file__).parent / (Path(__file__).stem + ".draw")).write_text(repr(random.random()))
"""


def test_template_children_draw_their_own_random_numbers_and_can_use_threads(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    # The template forks without CPython's at-fork hooks (forking/lean_fork.py): each child must
    # still reseed `random`, and threading and logging must work in it as after os.fork.
    for name in ("one", "two"):
        write(dags_folder / f"{name}.py", DRAWS_AND_USES_THREADS + simple_dag(name))
    processor = make_processor(template_min_files=0)
    report = processor.run_once()
    assert processor.template_failure is None
    assert report.failed == 0, import_errors(engine)
    assert active_ids(engine) == {"one", "two"}
    draws = {(dags_folder / f"{name}.draw").read_text() for name in ("one", "two")}
    assert len(draws) == 2
