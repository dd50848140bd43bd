"""The pytest side in real pytest runs (pytester): fixtures, idempotent marker, automatic items, options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .dags import EXAMPLES

PLUGIN = ("-p", "windvane.testing.plugin_extras", "-p", "no:cacheprovider", "-p", "no:randomly")
WAREHOUSE = (
    '--windvane-run-conf={"warehouse": "{sandbox}/wh.db"}',
    "--windvane-watch-db=sqlite:///{sandbox}/wh.db",
    "--windvane-watch-table=daily_sales",
    "--windvane-watch-table=load_audit",
)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*PLUGIN, *args)


@pytest.fixture
def dags(pytester: pytest.Pytester) -> Path:
    folder = pytester.path / "dags"
    folder.mkdir()
    shutil.copy(EXAMPLES / "partitions.py", folder / "partitions.py")
    return folder


def test_windvane_env_is_a_fresh_home_per_test_or_one_per_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_env="""
        import os
        HOMES = []

        def test_one(windvane_env):
            HOMES.append(windvane_env.home)
            assert (windvane_env.home / "windvane.db").exists() and windvane_env.dags_folder.is_dir()

        def test_two(windvane_env):
            HOMES.append(windvane_env.home)
            assert os.environ["WINDVANE_HOME"] == str(windvane_env.home)
            assert windvane_env.settings().database.sql_alchemy_conn == windvane_env.db_url

        def test_homes():
            assert len(HOMES) == 2
            print("DISTINCT", len(set(HOMES)))
        """
    )
    result = _run(pytester, "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*DISTINCT 2*"])
    pytester.makeini("[pytest]\nwindvane_env_scope = session\n")
    result = _run(pytester, "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*DISTINCT 1*"])


def test_run_dag_and_run_task_fixtures_run_in_the_sandbox(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_runs="""
        import os
        import pendulum
        from windvane import DAG, PythonOperator

        DAY = pendulum.datetime(2024, 3, 4, tz="UTC")

        def where(var):
            return [os.environ["WINDVANE_HOME"], var.value.colour]

        with DAG("d", start_date=DAY) as dag:
            PythonOperator(task_id="where", python_callable=where)
            PythonOperator(task_id="fails", python_callable=lambda: 1 / 0)

        def test_run_task(run_task, windvane_env):
            windvane_env.set_variable("colour", "blue")
            result = run_task(dag, "where", DAY).assert_success()
            assert result.xcom("where") == [str(windvane_env.home), "blue"]

        def test_run_dag_failure_is_loud(run_dag):
            run_dag(dag, DAY, variables={"colour": "red"}).assert_success()
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*RunFailedError: run manual__2024-03-04* of DAG 'd' ended failed",
            "*task 'fails': failed after 1 try*",
            "*ZeroDivisionError: division by zero",
        ]
    )


def test_the_idempotent_marker_passes_the_upsert_and_fails_the_append(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked=f"""
        import runpy
        import pendulum
        import pytest

        DAG = runpy.run_path({str(EXAMPLES / "partitions.py")!r})["dag"]
        DAY = pendulum.datetime(2024, 3, 4, tz="UTC")

        @pytest.mark.idempotent(tables=["daily_sales"])
        def test_upsert(run_task, idempotency, tmp_path):
            url = f"sqlite:///{{tmp_path}}/wh.db"
            idempotency.watch_tables(url, "daily_sales")
            rows = [["2024-03-04", "emea", 1], ["2024-03-04", "amer", 2]]
            conf = {{"warehouse": str(tmp_path / "wh.db")}}
            run_task(DAG, "load_partition", DAY, upstream={{"extract": rows}}, conf=conf).assert_success()

        @pytest.mark.idempotent(tables=["sales"])
        def test_tables_without_a_database():
            pass

        @pytest.mark.idempotent
        def test_append(run_dag, idempotency, tmp_path):
            idempotency.watch_tables(f"sqlite:///{{tmp_path}}/wh.db", "daily_sales", "load_audit")
            run_dag(DAG, DAY, conf={{"warehouse": str(tmp_path / "wh.db")}}).assert_success()
        """
    )
    result = _run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "test_tables_without_a_database: idempotent watches tables ['sales'] but no database: give the "
            "marker db=URL or call idempotency.watch_tables(url, ...)",
            "*_ test_append _*",
            "test_append is not idempotent: called twice in the same sandbox, the second call left different "
            "results (1 difference(s)):",
            "  table load_audit: 1 rows after the first call, 2 after the second call",
            "    1 row(s) only after the second call (ds, loaded):",
            "      ('2024-03-04', 3)",
        ]
    )
    assert "plugin_extras.py" not in result.stdout.str()  # the message, not the plugin's traceback


def test_automatic_idempotency_items_one_per_task(pytester: pytest.Pytester, dags: Path) -> None:
    result = _run(
        pytester,
        "-m",
        "windvane_idempotency",  # not the integrity plugin's items
        "--windvane-dags=dags",
        "--windvane-idempotency",
        "--windvane-logical-date=2024-03-04",
        *WAREHOUSE,
        "-v",
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*collected * items / * deselected / 3 selected",
            "dags/partitions.py::partitions::idempotent[[]extract[]] PASSED*",
            "dags/partitions.py::partitions::idempotent[[]load_partition[]] PASSED*",
            "dags/partitions.py::partitions::idempotent[[]append_audit[]] FAILED*",
            "*_ idempotent: partitions.append_audit _*",
            "task 'append_audit' of DAG 'partitions' is not idempotent: run twice for logical date "
            "2024-03-04T00:00:00+00:00, the second run left different results (1 difference(s)):",
            "  table load_audit: 1 rows after the first run, 2 after the second run",
        ]
    )
    selected = _run(
        pytester,
        "--windvane-dags=dags",
        "--windvane-idempotency",
        *WAREHOUSE,
        "-m",
        "windvane_idempotency",
        "-k",
        "load_partition",
    )
    selected.assert_outcomes(passed=1)


def test_snapshots_are_written_compared_and_diffed(pytester: pytest.Pytester, dags: Path) -> None:
    # (a missing snapshot failing is tested without pytester, in test_snapshots.py)
    _run(
        pytester, "-m", "windvane_snapshot", "--windvane-dags=dags", "--windvane-snapshot-update"
    ).assert_outcomes(passed=1)
    assert (dags / ".windvane-snapshots" / "partitions.json").exists()
    _run(pytester, "-m", "windvane_snapshot", "--windvane-dags=dags", "--windvane-snapshot").assert_outcomes(
        passed=1
    )
    source = (dags / "partitions.py").read_text()
    (dags / "partitions.py").write_text(
        source.replace("@task\n    def append_audit", '@task(trigger_rule="all_done")\n    def append_audit')
    )
    changed = _run(pytester, "-m", "windvane_snapshot", "--windvane-dags=dags", "--windvane-snapshot")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "DAG 'partitions' no longer matches its snapshot *partitions.json (1 change(s)):",
            "  tasks.append_audit.trigger_rule: 'all_success' -> 'all_done'",
        ]
    )


def test_an_automatic_determinism_item_names_the_leak(pytester: pytest.Pytester) -> None:
    (pytester.path / "dags").mkdir()
    (pytester.path / "dags" / "stamped.py").write_text(
        "import datetime, pendulum\n"
        "from windvane import DAG, task\n"
        "with DAG('stamped', start_date=pendulum.datetime(2024, 1, 1, tz='UTC')) as dag:\n"
        "    @task\n"
        "    def stamp() -> str:\n"
        "        return datetime.datetime.now().isoformat()\n"
        "    stamp()\n"
    )
    result = _run(pytester, "-m", "windvane_determinism", "--windvane-dags=dags", "--windvane-determinism")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*wall-clock time leaks into outputs*",
            '    XCom stamp.return_value: reference run "2024-01-01T00:00:00", *',
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--windvane-idempotency",), "*need the DAGs folder: --windvane-dags=PATH or ini windvane_dags*"),
        (
            ("--windvane-snapshot", "--windvane-dags=nowhere"),
            "*--windvane-dags*nowhere*",
        ),
        (
            ("--windvane-env-scope=module",),
            "*--windvane-env-scope / windvane_env_scope: 'module' is not one of*",
        ),
        (("--windvane-run-conf=[1]",), "*--windvane-run-conf / windvane_run_conf must be a JSON object*"),
        (
            ("--windvane-watch-table=t",),
            "*--windvane-watch-table / windvane_watch_tables need --windvane-watch-db*",
        ),
        (
            ("--windvane-logical-date=someday",),
            "*--windvane-logical-date / windvane_logical_date: 'someday'*",
        ),
    ],
)
def test_bad_options_are_usage_errors_naming_the_option(
    pytester: pytest.Pytester, args: tuple[str, ...], message: str
) -> None:
    result = _run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_markers_are_registered_with_help(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.idempotent(db=None, tables=(), dirs=()): run the test body twice*"]
    )
