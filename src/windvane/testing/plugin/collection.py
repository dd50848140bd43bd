"""Collecting the DAG folder: a directory node, a node per file and per DAG, an item per check.

``pytest_collect_directory`` hands the configured folder to
:class:`DagFolderCollector` (so pytest never imports DAG files as test
modules); it parses the folder once (:func:`~.state.dagbag_for`) and yields a
:class:`DagFileCollector` per file and the folder items. Node ids are stable
and sorted: ``dags/etl.py::import``, ``dags/etl.py::etl::cycles``,
``dags::unique_dag_ids``; every xdist worker collects the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from windvane.testing.integrity.run import CheckSpec, plan, plan_file, plan_folder
from windvane.testing.plugin.items import CheckItem
from windvane.testing.plugin.state import KNOWN_IDS_KEY, dagbag_for, settings_of


def _items(parent: pytest.Collector, specs: Iterable[CheckSpec]) -> list[pytest.Item]:
    folder = dagbag_for(parent.config)
    items: list[pytest.Item] = []
    for spec in specs:
        item = CheckItem.from_parent(parent, name=spec.check, spec=spec)
        if spec.check == "parse_time" and spec.path is not None:
            # Reported with the item even when it is skipped: the slowest-files summary reads it.
            item.user_properties.append(("parse_seconds", round(folder.facts[spec.path].duration, 4)))
        # Decided at collection, so the skip is reported at the item, not inside the plugin.
        if spec.path is not None and spec.check != "import" and folder.facts[spec.path].error is not None:
            item.add_marker(pytest.mark.skip(reason="the file did not import (see its import check)"))
        items.append(item)
    return items


class DagCollector(pytest.Collector):
    """The checks of one DAG (``dags/etl.py::<dag_id>``)."""

    def __init__(self, *, specs: list[CheckSpec], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.specs = specs

    def collect(self) -> Iterable[pytest.Item]:
        return _items(self, self.specs)


class DagFileCollector(pytest.File):
    """The checks of one DAG file: its file checks, then a node per DAG."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        settings = settings_of(self.config)
        assert settings is not None
        folder = dagbag_for(self.config)
        specs = plan_file(folder, str(self.path), settings.policy)
        nodes: list[pytest.Item | pytest.Collector] = list(
            _items(self, [s for s in specs if s.dag_id is None])
        )
        by_dag: dict[str, list[CheckSpec]] = {}
        for spec in specs:
            if spec.dag_id is not None:
                by_dag.setdefault(spec.dag_id, []).append(spec)
        for dag_id, dag_specs in by_dag.items():
            nodes.append(DagCollector.from_parent(self, name=dag_id, specs=dag_specs))
        return nodes


class DagFolderCollector(pytest.Directory):
    """The DAG folder: a node per file (sorted), then the whole-folder checks."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        settings = settings_of(self.config)
        assert settings is not None
        folder = dagbag_for(self.config)
        self.config.stash[KNOWN_IDS_KEY] = [
            s.check_id for s in plan(folder, settings.policy, settings.baseline)
        ]
        nodes: list[pytest.Item | pytest.Collector] = [
            DagFileCollector.from_parent(self, path=Path(path)) for path in folder.files
        ]
        nodes += _items(self, plan_folder(folder, settings.baseline))
        return nodes


def collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The body of ``pytest_collect_directory``: our collector for the configured folder only."""
    settings = settings_of(parent.config)
    if settings is None or path.resolve() != settings.folder:
        return None
    return DagFolderCollector.from_parent(parent, path=path)


def add_folder_to_args(config: pytest.Config) -> None:
    """Collect the DAG folder even when the arguments (or ``testpaths``) do not reach it."""
    settings = settings_of(config)
    if settings is None:
        return
    base = config.invocation_params.dir
    for arg in config.args:
        target = Path(arg.split("::")[0])
        target = (target if target.is_absolute() else base / target).resolve()
        if (
            settings.folder == target
            or settings.folder.is_relative_to(target)
            or target.is_relative_to(settings.folder)
        ):
            return
    config.args.append(str(settings.folder))
