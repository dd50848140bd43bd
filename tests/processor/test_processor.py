"""DagProcessor end to end on both backends: parse, store, re-scan, errors, timeouts."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum
import pytest
from sqlalchemy import Engine, event, update

import windvane
from tests.processor.helpers import active_ids, dag_rows, file_rows, import_errors, simple_dag, write
from windvane.core.authoring.defaults import AuthoringDefaults
from windvane.core.model.clock import FakeClock
from windvane.core.model.serialized_dag import SerializedDag
from windvane.core.processor import DagProcessor, ParseReport
from windvane.core.processor.manager import SQLITE_FILES_PER_TRANSACTION
from windvane.core.processor.store_writer import StoreWriter
from windvane.core.store.engine import begin_write
from windvane.core.store.tables import dag
from windvane.core.timetables.ops import next_run_info
from windvane.errors import ConfigError

WINDVANE_DIR = os.path.dirname(os.path.abspath(windvane.__file__))
MakeProcessor = Callable[..., DagProcessor]


def test_good_dag_is_parsed_and_stored(engine: Engine, dags_folder: Path, processor: DagProcessor) -> None:
    path = write(dags_folder / "etl.py", simple_dag("etl", tasks=3, extra=', tags=["nightly"]'))
    report = processor.run_once()
    assert (report.files_seen, report.parsed, report.failed, report.dags_written) == (1, 1, 0, 1)
    assert set(report.durations) == {str(path)}
    row = dag_rows(engine)["etl"]
    assert row["is_active"] and not row["is_paused"] and row["fileloc"] == str(path)
    assert row["timetable_summary"] == "@daily" and row["tags"] == ["nightly"]
    sd = SerializedDag.from_json(row["serialized"])
    assert len(sd.tasks) == 3 and sd.dag_hash == row["dag_hash"]
    assert sd.tasks["t1"].upstream == ("t0",)
    stored = file_rows(engine)[str(path)]
    assert stored["dag_ids"] == ["etl"] and len(stored["content_hash"]) == 64
    assert import_errors(engine) == {}


def test_new_dag_gets_next_dagrun_from_its_timetable(
    engine: Engine, dags_folder: Path, processor: DagProcessor, clock: FakeClock
) -> None:
    write(dags_folder / "etl.py", simple_dag("etl"))
    processor.run_once()
    row = dag_rows(engine)["etl"]
    sd = SerializedDag.from_json(row["serialized"])
    info = next_run_info(
        sd.timetable_obj,
        start_date=sd.start,
        end_date=sd.end,
        catchup=False,
        last_interval=None,
        now=clock.now(),
    )
    assert info is not None
    assert pendulum.instance(row["next_dagrun_create_after"]).in_timezone("UTC") == info.run_after
    assert (
        pendulum.instance(row["next_dagrun_data_interval_start"]).in_timezone("UTC")
        == info.data_interval.start
    )


def test_a_new_dags_first_run_is_computed_once_per_schedule_and_stored(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Checked before the batch is written and stored as is: the cron arithmetic is not redone,
    # and DAGs of one schedule and start date in a batch share one computation.
    calls: list[str] = []
    real = SerializedDag.next_run

    def counting(self: SerializedDag, *args: Any, **kwargs: Any) -> Any:
        calls.append(self.dag_id)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SerializedDag, "next_run", counting)
    for name in ("a", "b", "c"):
        write(dags_folder / f"{name}.py", simple_dag(name, schedule="*/15 * * * *"))
    write(dags_folder / "d.py", simple_dag("d", schedule="@hourly"))
    make_processor(batch_size=100, batch_interval=3600.0).run_once()
    assert len(calls) == 2 and "d" in calls
    rows = dag_rows(engine)
    assert all(rows[name]["next_dagrun_create_after"] is not None for name in "abcd")
    assert rows["a"]["next_dagrun_create_after"] == rows["c"]["next_dagrun_create_after"]
    assert rows["a"]["next_dagrun_data_interval_start"] != rows["d"]["next_dagrun_data_interval_start"]


def test_sqlite_transactions_hold_at_most_fifty_files(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # On SQLite each batch transaction holds the one write lock a scheduler pass waits for: a
    # 200-file batch held it for seconds during a big parse. PostgreSQL keeps one per batch.
    sizes: list[int] = []
    real = StoreWriter.write_batch

    def recording(self: StoreWriter, conn: Any, files: Any, now: Any) -> Any:
        sizes.append(len(files))
        return real(self, conn, files, now)

    monkeypatch.setattr(StoreWriter, "write_batch", recording)
    for i in range(SQLITE_FILES_PER_TRANSACTION + 5):
        write(dags_folder / f"d{i:03d}.py", simple_dag(f"d{i:03d}", tasks=1))
    report = make_processor(batch_size=200, batch_interval=3600.0).run_once()
    assert report.dags_written == SQLITE_FILES_PER_TRANSACTION + 5
    if engine.dialect.name == "sqlite":
        assert sizes == [SQLITE_FILES_PER_TRANSACTION, 5]
    else:
        assert sizes == [SQLITE_FILES_PER_TRANSACTION + 5]


def test_a_batchs_dags_are_upserted_in_one_statement(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DAG "):
            statements.append(statement)

    for name in ("a", "b", "c", "d"):
        write(dags_folder / f"{name}.py", simple_dag(name))
    processor = make_processor(parsing_processes=1, batch_size=100, batch_interval=3600.0)
    event.listen(engine, "before_cursor_execute", record)
    try:
        report = processor.run_once()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert report.dags_written == 4 and sorted(active_ids(engine)) == ["a", "b", "c", "d"]
    assert len(statements) == 1


def test_schedule_change_resets_next_dagrun_but_other_edits_do_not(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    path = write(dags_folder / "etl.py", simple_dag("etl"))
    processor.run_once()
    marker = pendulum.datetime(2030, 1, 1, tz="UTC")
    with begin_write(engine) as conn:  # as if the scheduler had moved on
        conn.execute(update(dag).values(next_dagrun_create_after=marker))
    write(path, simple_dag("etl", extra=', description="now documented"'))
    assert processor.run_once().dags_written == 1
    assert pendulum.instance(dag_rows(engine)["etl"]["next_dagrun_create_after"]) == marker
    write(path, simple_dag("etl", schedule="@hourly"))
    processor.run_once()
    row = dag_rows(engine)["etl"]
    assert row["timetable_summary"] == "@hourly"
    assert pendulum.instance(row["next_dagrun_create_after"]) != marker


def test_unchanged_rescan_parses_nothing_even_after_a_restart(
    engine: Engine, dags_folder: Path, processor: DagProcessor, make_processor: MakeProcessor
) -> None:
    write(dags_folder / "a.py", simple_dag("a"))
    write(dags_folder / "b.py", "raise RuntimeError('broken on purpose')\n")
    processor.run_once()
    again = processor.run_once()
    assert (again.parsed, again.skipped_unchanged, again.dags_written) == (0, 2, 0)
    restarted = make_processor().run_once()
    assert (restarted.parsed, restarted.skipped_unchanged, restarted.deactivated) == (0, 2, 0)
    assert active_ids(engine) == {"a"} and len(import_errors(engine)) == 1


def test_force_reparses_everything(dags_folder: Path, processor: DagProcessor) -> None:
    write(dags_folder / "a.py", simple_dag("a"))
    processor.run_once()
    assert processor.run_once(force=True).parsed == 1


def test_edited_file_is_picked_up(engine: Engine, dags_folder: Path, processor: DagProcessor) -> None:
    path = write(dags_folder / "etl.py", simple_dag("etl", tasks=2))
    processor.run_once()
    write(path, simple_dag("etl", tasks=5))
    report = processor.run_once()
    assert report.parsed == 1 and report.dags_written == 1
    assert len(SerializedDag.from_json(dag_rows(engine)["etl"]["serialized"]).tasks) == 5


def test_deleted_file_deactivates_its_dags_and_keeps_the_rows(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    gone = write(dags_folder / "gone.py", simple_dag("gone"))
    write(dags_folder / "stays.py", simple_dag("stays"))
    processor.run_once()
    gone.unlink()
    report = processor.run_once()
    assert report.deactivated == 1 and report.parsed == 0
    rows = dag_rows(engine)
    assert not rows["gone"]["is_active"] and rows["stays"]["is_active"]
    assert str(gone) not in file_rows(engine)


def test_dag_removed_from_a_file_is_deactivated(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    path = write(dags_folder / "two.py", simple_dag("one") + simple_dag("two"))
    processor.run_once()
    write(path, simple_dag("one"))
    assert processor.run_once().deactivated == 1
    assert active_ids(engine) == {"one"} and "two" in dag_rows(engine)


def test_files_deleted_while_stopped_are_forgotten_at_startup(
    engine: Engine, dags_folder: Path, processor: DagProcessor, make_processor: MakeProcessor
) -> None:
    gone = write(dags_folder / "gone.py", "raise ValueError('x')\n" + simple_dag("never"))
    write(dags_folder / "old.py", simple_dag("old"))
    processor.run_once()
    gone.unlink()
    (dags_folder / "old.py").unlink()
    report = make_processor().run_once()
    assert report.deactivated == 1 and active_ids(engine) == set()
    assert import_errors(engine) == {} and file_rows(engine) == {}


def test_import_error_is_stored_with_the_users_frames_only(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    path = write(
        dags_folder / "broken.py",
        """
        with DAG("broken", schedule=None):
            EmptyOperator(task_id="t", not_an_argument=True)
        """,
    )
    report = processor.run_once()
    assert report.failed == 1 and report.dags_written == 0
    text = import_errors(engine)[str(path)]
    assert report.import_errors[str(path)] == text
    assert f'File "{path}", line 8, in <module>' in text and "not_an_argument" in text
    assert WINDVANE_DIR not in text and "importlib" not in text
    assert "broken" not in active_ids(engine)
    write(path, simple_dag("broken"))  # fixed: the error goes away
    processor.run_once()
    assert import_errors(engine) == {} and active_ids(engine) == {"broken"}


def test_syntax_error_is_an_import_error(engine: Engine, dags_folder: Path, processor: DagProcessor) -> None:
    path = write(dags_folder / "syntax.py", "with DAG('s', schedule=None)\n    pass\n")
    processor.run_once()
    text = import_errors(engine)[str(path)]
    assert "SyntaxError" in text and f'File "{path}", line 6' in text


def test_cycle_is_an_import_error_naming_the_dag(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    path = write(
        dags_folder / "cycle.py",
        """
        with DAG("loop", schedule=None):
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            a >> b >> a
        """,
    )
    processor.run_once()
    text = import_errors(engine)[str(path)]
    assert "CycleError" in text and "DAG 'loop'" in text and "a -> b -> a" in text
    assert active_ids(engine) == set()


def test_hanging_file_is_killed_at_the_timeout_while_another_is_parsed(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    hang = write(dags_folder / "hang.py", "import time\ntime.sleep(3600)\n")
    write(dags_folder / "good.py", simple_dag("good"))
    report = make_processor(parse_timeout=1.0, parsing_processes=2).run_once()
    assert report.timed_out == 1 and report.failed == 1 and report.parsed == 2
    assert (
        import_errors(engine)[str(hang)]
        == f"{hang}: timed out after 1 s (dag_processor.file_parse_timeout_seconds); "
        "the parsing process was killed"
    )
    assert active_ids(engine) == {"good"}


@pytest.mark.parametrize(
    ("code", "expected"),
    [("import os\nos._exit(1)\n", "exited with code 1"), ("import ctypes\nctypes.string_at(0)\n", "SIGSEGV")],
)
def test_crashing_file_is_recorded(
    engine: Engine, dags_folder: Path, processor: DagProcessor, code: str, expected: str
) -> None:
    crash = write(dags_folder / "crash.py", code)
    write(dags_folder / "good.py", simple_dag("good"))
    report = processor.run_once()
    assert report.crashed == 1 and report.failed == 1
    assert expected in import_errors(engine)[str(crash)]
    assert active_ids(engine) == {"good"}


def test_dags_not_bound_to_globals_are_found(
    engine: Engine, dags_folder: Path, processor: DagProcessor
) -> None:
    write(
        dags_folder / "hidden.py",
        """
        def build(name):
            with DAG(name, schedule=None):
                EmptyOperator(task_id="t")

        for name in ("built_a", "built_b"):
            build(name)

        @dag(schedule="@daily", start_date=START)
        def decorated():
            EmptyOperator(task_id="t")

        decorated()
        """,
    )
    processor.run_once()
    assert active_ids(engine) == {"built_a", "built_b", "decorated"}


def test_safe_mode_skips_files_without_the_words(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    write(dags_folder / "helper.py", "VALUE = 1\n", header=False)
    write(dags_folder / "etl.py", simple_dag("etl"))
    report = make_processor().run_once()
    assert (report.files_seen, report.skipped_not_dag, report.parsed) == (2, 1, 1)
    assert make_processor(safe_mode=False).run_once(force=True).parsed == 2


def test_windvaneignore_excludes_files(engine: Engine, dags_folder: Path, processor: DagProcessor) -> None:
    (dags_folder / ".windvaneignore").write_text("^scratch/\n_wip\\.py$\n")
    write(dags_folder / "scratch" / "try.py", simple_dag("scratch"))
    write(dags_folder / "etl_wip.py", simple_dag("wip"))
    write(dags_folder / "etl.py", simple_dag("etl"))
    report = processor.run_once()
    assert report.files_seen == 1 and active_ids(engine) == {"etl"}


def test_paused_at_creation_applies_to_new_dags_only(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    write(dags_folder / "a.py", simple_dag("a"))
    write(dags_folder / "b.py", simple_dag("b", extra=", is_paused_upon_creation=False"))
    make_processor(paused_at_creation=True).run_once()
    rows = dag_rows(engine)
    assert rows["a"]["is_paused"] and not rows["b"]["is_paused"]


def test_authoring_defaults_are_what_children_read_dag_files_with(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor
) -> None:
    write(
        dags_folder / "naive.py",
        """
        import datetime
        with DAG("naive", schedule="@daily", start_date=datetime.datetime(2024, 1, 1)):
            EmptyOperator(task_id="t")
        """,
    )
    defaults = AuthoringDefaults(timezone=pendulum.timezone("Europe/Amsterdam"), catchup=False)
    make_processor(authoring_defaults=defaults).run_once()
    sd = SerializedDag.from_json(dag_rows(engine)["naive"]["serialized"])
    assert sd.start_date == "2023-12-31T23:00:00+00:00" and sd.catchup is False


def test_user_output_goes_to_the_parse_log(
    engine: Engine, dags_folder: Path, make_processor: MakeProcessor, tmp_path: Path
) -> None:
    write(dags_folder / "chatty.py", "print('hello from a DAG file')\n" + simple_dag("chatty"))
    log = tmp_path / "parse.log"
    make_processor(parse_log=str(log)).run_once()
    assert "hello from a DAG file" in log.read_text() and active_ids(engine) == {"chatty"}


def test_run_loops_until_the_stop_event(engine: Engine, dags_folder: Path, processor: DagProcessor) -> None:
    write(dags_folder / "a.py", simple_dag("a"))
    stop = threading.Event()
    passes: list[int] = []
    real_run_once = processor.run_once

    def counting_run_once(force: bool = False) -> ParseReport:
        report = real_run_once(force)
        passes.append(report.parsed)
        if len(passes) == 2:
            stop.set()
        return report

    processor.run_once = counting_run_once  # type: ignore[method-assign]
    processor.run(stop, refresh_interval=0.01)
    assert passes == [1, 0] and active_ids(engine) == {"a"}


def test_bad_settings_are_refused(engine: Engine, dags_folder: Path) -> None:
    with pytest.raises(ConfigError, match="parsing_processes"):
        DagProcessor(dags_folder, engine, parsing_processes=0)
    with pytest.raises(ConfigError, match="timeout"):
        DagProcessor(dags_folder, engine, parse_timeout=0)
