"""pytest hooks for running DAGs in tests: fixtures, the ``idempotent`` marker, automatic checks.

Loaded by Windvane's pytest plugin (or alone: ``-p windvane.testing.plugin_extras``).

Fixtures
    ``windvane_env`` — a :class:`~windvane.testing.sandbox.WindvaneEnv`: an
    isolated ``WINDVANE_HOME`` with a fresh migrated SQLite metadata database,
    per test (default) or per session (``--windvane-env-scope`` / ini
    ``windvane_env_scope``); ``run_dag(dag, logical_date=None, **kw)`` and
    ``run_task(dag, task_id, logical_date=None, **kw)`` —
    :func:`~windvane.testing.run.run_dag` / :func:`~windvane.testing.run.run_one_task`
    in that sandbox; ``idempotency`` — what an ``idempotent`` test watches.

Marker
    ``@pytest.mark.idempotent(db=URL, tables=[...], dirs=[...])`` runs the test
    body twice, in the same sandbox and fixtures, and fails with
    :class:`~windvane.testing.errors.NotIdempotentError` if the second call
    left different results: the XComs of the runs it made with ``run_dag`` /
    ``run_task``, the files under the watched folders, the rows of the watched
    tables.

Automatic items (:mod:`windvane.testing.dag_items`), from the DAGs folder
    ``--windvane-idempotency`` (per task), ``--windvane-determinism`` (per
    DAG), ``--windvane-snapshot`` / ``--windvane-snapshot-update`` (per DAG).
    Options: :mod:`windvane.testing.extras_options`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pendulum
import pytest

from windvane.core.authoring.dag import DAG
from windvane.testing.effects import Effects, Watch, capture, diff_effects
from windvane.testing.extras_options import (
    TEMPLATE_KEY,
    ExtrasOptions,
    add_options,
    read_options,
    sqlite_template,
)
from windvane.testing.idempotency import xcom_texts
from windvane.testing.run import RunResult, run_dag, run_one_task
from windvane.testing.sandbox import WindvaneEnv, create_env

OPTIONS_KEY = pytest.StashKey[ExtrasOptions]()
_RECORDER_KEY = pytest.StashKey["RunRecorder"]()

MARKERS = [
    "idempotent(db=None, tables=(), dirs=()): run the test body twice in the same sandbox and fail if "
    "the second call changed what it produced (XComs of run_dag/run_task, files under dirs, rows of "
    "tables in db)",
    "windvane_idempotency: an automatic idempotency item (--windvane-idempotency)",
    "windvane_determinism: an automatic determinism item (--windvane-determinism)",
    "windvane_snapshot: an automatic structure snapshot item (--windvane-snapshot)",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    config.stash[OPTIONS_KEY] = read_options(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    options = config.stash[OPTIONS_KEY]
    if options.collects:
        from windvane.testing.dag_items import collect_dag_items

        items.extend(collect_dag_items(session, options))


def pytest_unconfigure(config: pytest.Config) -> None:
    template = config.stash.get(TEMPLATE_KEY, None)
    if template is not None:
        shutil.rmtree(template.path.parent, ignore_errors=True)


# -- fixtures -----------------------------------------------------------------------------------


def _env_scope(fixture_name: str, config: pytest.Config) -> str:
    return config.stash[OPTIONS_KEY].env_scope


@pytest.fixture(scope=_env_scope)  # type: ignore[arg-type]
def windvane_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WindvaneEnv]:
    """An isolated Windvane home: ``windvane.toml``, a migrated SQLite DB, variables and connections
    (``set_variable``, ``set_connection``), ``dags_folder``, ``engine``, ``settings()``; ``WINDVANE_HOME``
    and the database URL point at it in ``os.environ`` while it lives."""
    template = sqlite_template(request.config)
    env = create_env(tmp_path_factory.mktemp("windvane_home"), template=template)
    try:
        with env.activated():  # WINDVANE_HOME and the database URL point here while the fixture lives
            yield env
    finally:
        env.close()


RunDag = Callable[..., RunResult]


@dataclass
class RunRecorder:
    """The runs a test made through the fixtures, and what an ``idempotent`` test watches."""

    watch: Watch = field(default_factory=Watch)
    results: list[RunResult] = field(default_factory=list)

    def watch_dir(self, folder: Path | str) -> None:
        """Compare the files under ``folder`` (content hashes)."""
        self.watch = self.watch.merged(Watch.of(dirs=[folder]))

    def watch_tables(self, db_url: str, *tables: str) -> None:
        """Compare every row of ``tables`` in the database at ``db_url``."""
        self.watch = self.watch.merged(Watch.of(db_url=db_url, tables=tables))

    def snapshot(self) -> Effects:
        return capture(self.watch, xcom_texts(self.results, prefix_dag=True))


def _recorder(node: pytest.Item) -> RunRecorder:
    recorder = node.stash.get(_RECORDER_KEY, None)
    if recorder is None:
        recorder = node.stash[_RECORDER_KEY] = RunRecorder()
    return recorder


@pytest.fixture
def idempotency(request: pytest.FixtureRequest) -> RunRecorder:
    """What an ``idempotent`` test watches: ``watch_dir(path)``, ``watch_tables(url, *names)``."""
    return _recorder(request.node)


@pytest.fixture(name="run_dag")
def run_dag_fixture(request: pytest.FixtureRequest, windvane_env: WindvaneEnv) -> RunDag:
    """``run_dag(dag, logical_date=None, *, conf, variables, connections)`` in the test's sandbox."""
    recorder = _recorder(request.node)

    def run(dag: DAG, logical_date: pendulum.DateTime | None = None, **kwargs: Any) -> RunResult:
        kwargs.setdefault("env", windvane_env)
        result = run_dag(dag, logical_date, **kwargs)
        recorder.results.append(result)
        return result

    return run


@pytest.fixture(name="run_task")
def run_task_fixture(request: pytest.FixtureRequest, windvane_env: WindvaneEnv) -> RunDag:
    """``run_task(dag, task_id, logical_date=None, *, upstream, conf, variables, connections)``
    in the test's sandbox (:func:`~windvane.testing.run.run_one_task`)."""
    recorder = _recorder(request.node)

    def run(
        dag: DAG, task_id: str, logical_date: pendulum.DateTime | None = None, **kwargs: Any
    ) -> RunResult:
        kwargs.setdefault("env", windvane_env)
        result = run_one_task(dag, task_id, logical_date, **kwargs)
        recorder.results.append(result)
        return result

    return run


# -- the idempotent marker ----------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    marker = pyfuncitem.get_closest_marker("idempotent")
    if marker is None:
        return None
    recorder = _recorder(pyfuncitem)
    recorder.watch = recorder.watch.merged(
        Watch.of(
            dirs=marker.kwargs.get("dirs", ()),
            db_url=marker.kwargs.get("db"),
            tables=marker.kwargs.get("tables", ()),
        )
    )
    names = pyfuncitem._fixtureinfo.argnames  # what pytest's own pytest_pyfunc_call passes
    arguments = {name: pyfuncitem.funcargs[name] for name in names}
    snapshots = []
    for _ in range(2):
        recorder.results.clear()
        pyfuncitem.obj(**arguments)
        if recorder.watch.tables and not recorder.watch.db_url:
            pytest.fail(
                f"{pyfuncitem.name}: idempotent watches tables {list(recorder.watch.tables)} but no "
                "database: give the marker db=URL or call idempotency.watch_tables(url, ...)",
                pytrace=False,
            )
        snapshots.append(recorder.snapshot())
    differences = diff_effects(snapshots[0], snapshots[1], ("first call", "second call"))
    if differences:
        # pytrace=False: the differences are the message; the plugin's frames would only hide them.
        pytest.fail(
            f"{pyfuncitem.name} is not idempotent: called twice in the same sandbox, the second call left "
            f"different results ({len(differences)} difference(s)):\n"
            + "\n".join("  " + d for d in differences),
            pytrace=False,
        )
    return True
