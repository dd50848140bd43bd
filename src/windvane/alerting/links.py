"""Where to look next: the failed try's log file and a link into a UI, for an alert. Pure.

The log path follows the worker's layout (:func:`windvane.core.worker.runner.log_path_for`)::

    {base_log_folder}/dag_id=<dag>/run_id=<run>/task_id=<task>[/map_index=<i>]/attempt=<try>.log

on the host the try ran on (the journal entry's ``hostname``). The link, when
``[alerting] base_url`` is set, follows Airflow 3's UI paths, so a reverse proxy
or a future Windvane UI can serve them::

    {base_url}/dags/<dag>/runs/<run>                                   (a run)
    {base_url}/dags/<dag>/runs/<run>/tasks/<task>[/mapped/<i>]?try_number=<n>   (a try)

Path segments are percent-encoded (run ids hold ``:`` and ``+``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from windvane.core.interfaces import JournalEntry


def _segment(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True, slots=True)
class Links:
    """What the relay needs to fill :attr:`Alert.log_path` and :attr:`Alert.link`; empty values
    leave them unset."""

    log_folder: str = ""
    base_url: str = ""

    def log_path(self, entry: JournalEntry) -> str | None:
        """The log file of the try ``entry`` finished (None for a run's entry or without a folder)."""
        if not self.log_folder or entry.key is None or entry.try_number is None:
            return None
        parts = [f"dag_id={entry.dag_id}", f"run_id={entry.run_id}", f"task_id={entry.key.task_id}"]
        if entry.key.map_index >= 0:
            parts.append(f"map_index={entry.key.map_index}")
        return os.path.join(self.log_folder, *parts, f"attempt={entry.try_number}.log")

    def link(self, entry: JournalEntry) -> str | None:
        """The UI address of the run (or the try) ``entry`` is about; None without a base URL."""
        if not self.base_url:
            return None
        url = f"{self.base_url.rstrip('/')}/dags/{_segment(entry.dag_id)}/runs/{_segment(entry.run_id)}"
        if entry.key is None:
            return url
        url += f"/tasks/{_segment(entry.key.task_id)}"
        if entry.key.map_index >= 0:
            url += f"/mapped/{entry.key.map_index}"
        if entry.try_number is not None:
            url += f"?try_number={entry.try_number}"
        return url
