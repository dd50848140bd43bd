"""The Windvane pytest plugin: DAG-folder integrity checks as pytest items (``pytest11`` entry ``windvane``).

Installing Windvane registers it; it does nothing until asked:
``pytest --windvane-dags=dags/`` (or ini ``windvane_dags``) collects one item
per check of every DAG file and DAG (``dags/etl.py::import``,
``dags/etl.py::etl::cycles``...) and the whole-folder checks. ``-p no:windvane``
turns it off. The checks live in :mod:`windvane.testing.integrity`, shared with
``windvane dags check``.

Modules: :mod:`.options` (options and ini twins), :mod:`.state` (the parsed
folder, once per process: :func:`dagbag_for`), :mod:`.collection`,
:mod:`.items`, :mod:`.report` (header, slowest files), :mod:`.sharing` (one parse for all xdist
workers). The ``dagbag`` fixture
is the parsed :class:`~windvane.testing.integrity.DagFolder`. The companion
module ``windvane.testing.plugin_extras`` (run helpers, idempotency,
snapshots), when installed, is registered from :func:`pytest_addoption` so
that its own options are parsed too.

May import pytest, :mod:`windvane.testing` and :mod:`windvane.core`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from windvane.testing.plugin.options import add_options, read_settings
from windvane.testing.plugin.state import SETTINGS_KEY, dagbag_for, settings_of

if TYPE_CHECKING:
    from windvane.testing.integrity import DagFolder

# Loaded in every pytest run: the checks, the collectors and the core are imported only once the
# plugin is active (a DAG folder was given), inside the hooks below.

__all__ = ["dagbag", "dagbag_for"]

EXTRAS = "windvane.testing.plugin_extras"
MARKERS = (
    "windvane: a Windvane DAG integrity check (collected from --windvane-dags); "
    "select with -m windvane, one check with -k (e.g. -k cycles)",
)


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    add_options(parser)
    if importlib.util.find_spec(EXTRAS) is not None:
        pluginmanager.import_plugin(EXTRAS)


def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    config.stash[SETTINGS_KEY] = settings = read_settings(config)
    if settings is None:
        return
    from windvane.testing.plugin.collection import add_folder_to_args
    from windvane.testing.plugin.report import ParseTimeRecorder

    add_folder_to_args(config)
    config.pluginmanager.register(ParseTimeRecorder(config), "windvane-parse-times")
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        from windvane.testing.plugin.sharing import ParseCacheHost

        config.pluginmanager.register(ParseCacheHost(), "windvane-parse-cache")


def pytest_report_header(config: pytest.Config) -> list[str]:
    if settings_of(config) is None:
        return []
    from windvane.testing.plugin.report import header_lines

    return header_lines(config)


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if settings_of(parent.config) is None:
        return None
    from windvane.testing.plugin.collection import collect_directory

    return collect_directory(path, parent)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if settings_of(config) is None:
        return
    from windvane.testing.plugin.report import write_slowest

    write_slowest(terminalreporter, config)


@pytest.fixture(scope="session")
def dagbag(pytestconfig: pytest.Config) -> DagFolder:
    """The parsed DAG folder (``--windvane-dags``): ``dag_id -> DAG`` plus import errors and parse times.

    Parsed once per session (per worker under xdist), each file in its own
    process; live DAGs are imported in this process when first asked for.
    """
    try:
        return dagbag_for(pytestconfig)
    except pytest.UsageError as exc:
        pytest.fail(f"the dagbag fixture needs a DAG folder: {exc}")
