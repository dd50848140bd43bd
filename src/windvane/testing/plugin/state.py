"""What the plugin keeps on the pytest config: its settings and the parsed folder (once per process)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from windvane.testing.integrity import DagFolder
    from windvane.testing.plugin.options import PluginSettings

SETTINGS_KEY = pytest.StashKey["PluginSettings | None"]()
FOLDER_KEY = pytest.StashKey["DagFolder"]()
KNOWN_IDS_KEY = pytest.StashKey[list[str]]()


def settings_of(config: pytest.Config) -> PluginSettings | None:
    """The plugin's settings; None when it is inert (no DAG folder given)."""
    return config.stash.get(SETTINGS_KEY, None)


def dagbag_for(config: pytest.Config) -> DagFolder:
    """The parsed DAG folder of this session: parsed on first use, once (under xdist, once for all
    workers: the first parses, the others read its facts).

    Raises :class:`pytest.UsageError` when no folder was given.
    """
    folder = config.stash.get(FOLDER_KEY, None)
    if folder is None:
        settings = settings_of(config)
        if settings is None:
            raise pytest.UsageError("no DAG folder: pass --windvane-dags=PATH (or set ini windvane_dags)")
        from windvane.testing.integrity import DagFolder
        from windvane.testing.plugin.sharing import parse_once, shared_folder

        def parse() -> DagFolder:
            return DagFolder.parse(str(settings.folder), settings.parse)

        scratch = shared_folder(config)
        folder = parse() if scratch is None else parse_once(scratch, parse)
        config.stash[FOLDER_KEY] = folder
    return folder
