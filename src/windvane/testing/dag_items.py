"""The automatic items of :mod:`windvane.testing.plugin_extras`, one set per DAG of the DAGs folder.

``<file>::<dag_id>::snapshot`` (``--windvane-snapshot``), ``<file>::<dag_id>::deterministic``
(``--windvane-determinism``) and ``<file>::<dag_id>::idempotent[<task_id>]``
(``--windvane-idempotency``), in file, DAG and topological order (the same on
every xdist worker). The folder is listed as the DAG processor lists it
(``.windvaneignore`` honoured) and each file imported once, in this process,
through core's :class:`~windvane.core.worker.dag_loader.DagLoader`; a file
that fails to import gets no items here (the integrity plugin's import item
reports it). Failures show the check's own message, not a plugin traceback.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pendulum
import pytest

from windvane.core.authoring.dag import DAG
from windvane.core.processor.discovery import list_dag_files
from windvane.core.worker.dag_loader import DagLoader
from windvane.errors import DagImportError, WindvaneError
from windvane.testing.determinism import check_deterministic, substitute
from windvane.testing.effects import Watch
from windvane.testing.extras_options import SANDBOX, ExtrasOptions, sqlite_template
from windvane.testing.idempotency import check_idempotent
from windvane.testing.sandbox import WindvaneEnv, create_env
from windvane.testing.snapshots import check_snapshot

#: The logical date of automatic runs of a DAG without start_date, unless --windvane-logical-date says.
DEFAULT_LOGICAL_DATE = pendulum.datetime(2024, 1, 1, tz="UTC")


class DagFileNode(pytest.File):
    """A DAG file, parent of its DAGs' automatic items (built by :func:`collect_dag_items`)."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


class DagNode(pytest.Collector):
    """One DAG, parent of its automatic items."""

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        return []


class DagCheckItem(pytest.Item):
    """An automatic check of one DAG (or task); the failure is the check's message."""

    marker = ""

    def __init__(
        self, *, dag: DAG, options: ExtrasOptions, task_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.dag = dag
        self.options = options
        self.task_id = task_id
        if self.marker:
            self.add_marker(self.marker)

    @property
    def logical_date(self) -> pendulum.DateTime:
        if self.options.logical_date is not None:
            return self.options.logical_date
        start = self.dag.start_date
        return pendulum.instance(start).in_timezone("UTC") if start is not None else DEFAULT_LOGICAL_DATE

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, WindvaneError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        subject = f"{self.dag.dag_id}.{self.task_id}" if self.task_id else self.dag.dag_id
        return self.path, None, f"{self.name.split('[')[0]}: {subject}"

    @contextmanager
    def sandbox(self) -> Iterator[tuple[WindvaneEnv, dict[str, Any], Watch]]:
        """A fresh sandbox, and the run conf and watch with ``{sandbox}`` filled in."""
        template = sqlite_template(self.config)
        with tempfile.TemporaryDirectory(prefix="windvane-check-") as folder:
            home = Path(folder)
            env = create_env(home, template=template)
            try:
                yield env, substitute(self.options.run_conf, home), self._watch(home)
            finally:
                env.close()

    def _watch(self, home: Path) -> Watch:
        o = self.options
        db = o.watch_db.replace(SANDBOX, str(home)) if o.watch_db else None
        return Watch({d: Path(d.replace(SANDBOX, str(home))) for d in o.watch_dirs}, db, o.watch_tables)

    def _template_watch(self) -> Watch:
        o = self.options
        return Watch({d: Path(d) for d in o.watch_dirs}, o.watch_db, o.watch_tables)


class SnapshotItem(DagCheckItem):
    marker = "windvane_snapshot"

    def runtest(self) -> None:
        check_snapshot(self.dag, self.options.snapshot_folder, update=self.options.snapshot_update)


class IdempotencyItem(DagCheckItem):
    marker = "windvane_idempotency"

    def runtest(self) -> None:
        with self.sandbox() as (env, conf, watch):
            check_idempotent(
                self.dag, self.logical_date, task_id=self.task_id, watch=watch, conf=conf, env=env
            )


class DeterminismItem(DagCheckItem):
    marker = "windvane_determinism"

    def runtest(self) -> None:
        template = sqlite_template(self.config)
        check_deterministic(
            self.dag,
            self.logical_date,
            watch=self._template_watch(),
            conf=self.options.run_conf,
            template=template,
        )


def collect_dag_items(session: pytest.Session, options: ExtrasOptions) -> list[pytest.Item]:
    """The automatic items the options ask for, over every DAG of the DAGs folder."""
    assert options.dags is not None
    loader = DagLoader()
    items: list[pytest.Item] = []
    files = [str(options.dags)] if options.dags.is_file() else list_dag_files(str(options.dags))
    for path in files:
        try:
            dags = loader.dags_in(path)
        except DagImportError:
            continue
        file_node = DagFileNode.from_parent(session, path=Path(path))
        first = len(items)
        for dag_id, dag in sorted(dags.items()):
            node = DagNode.from_parent(file_node, name=dag_id)
            if options.snapshot or options.snapshot_update:
                items.append(SnapshotItem.from_parent(node, name="snapshot", dag=dag, options=options))
            if options.determinism:
                items.append(
                    DeterminismItem.from_parent(node, name="deterministic", dag=dag, options=options)
                )
            if options.idempotency:
                items.extend(
                    IdempotencyItem.from_parent(
                        node, name=f"idempotent[{t.task_id}]", dag=dag, options=options, task_id=t.task_id
                    )
                    for t in dag.topological_sort()
                )
        # Reported like any collected file, so the terminal's "collected N items" counts these.
        report = pytest.CollectReport(
            file_node.nodeid, "passed", None, list[pytest.Item | pytest.Collector](items[first:])
        )
        session.ihook.pytest_collectreport(report=report)
    return items
