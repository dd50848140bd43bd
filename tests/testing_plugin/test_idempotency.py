"""Idempotency: run twice for one logical date, compare XComs, files and rows, and say what differs."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

import pytest

from windvane import DAG, BashOperator, PythonOperator
from windvane.testing.effects import Watch, capture, diff_effects
from windvane.testing.errors import NotIdempotentError, RunFailedError
from windvane.testing.idempotency import check_idempotent

from .dags import DAY, START, partitions_dag


def _warehouse(tmp_path: Path) -> tuple[dict[str, str], Watch]:
    path = tmp_path / "warehouse.db"
    return {"warehouse": str(path)}, Watch.of(
        db_url=f"sqlite:///{path}", tables=["daily_sales", "load_audit"]
    )


def test_the_upsert_by_partition_is_idempotent(tmp_path: Path) -> None:
    conf, watch = _warehouse(tmp_path)
    report = check_idempotent(partitions_dag(), DAY, task_id="load_partition", watch=watch, conf=conf)
    assert report.differences == ()
    assert len(report.second_effects.tables["daily_sales"].rows) == 3
    assert report.second_effects.xcoms == {"load_partition.return_value": "3"}


def test_the_append_is_not_and_the_message_shows_the_extra_row(tmp_path: Path) -> None:
    conf, watch = _warehouse(tmp_path)
    with pytest.raises(NotIdempotentError) as raised:
        check_idempotent(partitions_dag(), DAY, task_id="append_audit", watch=watch, conf=conf)
    assert str(raised.value) == (
        "task 'append_audit' of DAG 'partitions' is not idempotent: run twice for logical date "
        "2024-03-04T00:00:00+00:00, the second run left different results (1 difference(s)):\n"
        "  table load_audit: 1 rows after the first run, 2 after the second run\n"
        "    1 row(s) only after the second run (ds, loaded):\n"
        "      ('2024-03-04', 3)"
    )


def test_a_whole_dag_run_twice_is_checked_too(tmp_path: Path) -> None:
    conf, watch = _warehouse(tmp_path)
    with pytest.raises(NotIdempotentError, match="DAG 'partitions' is not idempotent"):
        check_idempotent(partitions_dag(), DAY, watch=watch, conf=conf)
    only_sales = Watch.of(db_url=watch.db_url, tables=["daily_sales"])
    assert check_idempotent(partitions_dag(), DAY, watch=only_sales, conf=conf).differences == ()


def test_files_xcoms_and_keyed_rows_are_diffed_readably(tmp_path: Path) -> None:
    out = tmp_path / "out"
    db = tmp_path / "state.db"
    counter = itertools.count(1)

    def write() -> int:
        run = next(counter)
        out.mkdir(exist_ok=True)
        (out / "stable.txt").write_text("same every time\n")
        with (out / "log.txt").open("a") as handle:
            handle.write(f"run {run}\n")
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY, value INTEGER)")
            conn.execute("INSERT OR REPLACE INTO state VALUES (1, ?)", (run,))
        conn.close()
        return run

    with DAG("effects", start_date=START) as dag:
        PythonOperator(task_id="write", python_callable=write)
    watch = Watch.of(dirs=[out], db_url=f"sqlite:///{db}", tables=["state"])
    report = check_idempotent(dag, DAY, task_id="write", watch=watch, raise_on_difference=False)
    assert list(report.differences) == [
        "XCom write.return_value: first run 1, second run 2",
        f"file {out}/log.txt: content differs (sha256 {report.first_effects.files[f'{out}/log.txt'][:12]} "
        f"first run, {report.second_effects.files[f'{out}/log.txt'][:12]} second run)\n"
        "    @@ -1 +1,2 @@\n"
        "     run 1\n"
        "    +run 2",
        "table state row id=1: value first run 1, second run 2",
    ]


def test_templated_fields_render_again_on_the_second_run(tmp_path: Path) -> None:
    target = tmp_path / "day.txt"
    with DAG("templated", start_date=START) as dag:
        BashOperator(task_id="write", bash_command=f"echo {{{{ ds }}}} > {target} && cat {target}")
    report = check_idempotent(dag, DAY, task_id="write", watch=Watch.of(dirs=[tmp_path]))
    assert report.differences == () and target.read_text() == "2024-03-04\n"
    assert dag.get_task("write").bash_command.startswith("echo {{ ds }}")  # type: ignore[attr-defined]


def test_a_first_run_that_fails_is_reported_not_compared() -> None:
    def broken() -> None:
        raise RuntimeError("no source")

    with DAG("broken", start_date=START) as dag:
        PythonOperator(task_id="t", python_callable=broken)
    with pytest.raises(RunFailedError, match="RuntimeError: no source"):
        check_idempotent(dag, DAY, task_id="t")


def test_files_added_and_removed_are_named(tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("a\n")
    before = capture(Watch.of(dirs=[tmp_path]))
    (tmp_path / "old.csv").unlink()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.bin").write_bytes(b"\xff\x00")
    after = capture(Watch.of(dirs=[tmp_path]))
    assert diff_effects(before, after) == [
        f"file {tmp_path}/old.csv: present after the first run, gone after the second run",
        f"file {tmp_path}/sub/new.bin: written only by the second run",
    ]
