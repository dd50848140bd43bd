"""The metadata port a running task sees (:mod:`windvane.core.task_api.metadata`), over the store's
plain SQL (:mod:`windvane.core.store.cross_dag_sql`) on a connection of its own, opened on first use:
a task that never asks never connects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pendulum

from windvane.core.model.run_ids import check_run_id
from windvane.core.model.states import DagRunType
from windvane.core.store import cross_dag_sql as sql
from windvane.core.store.raw import RawDb
from windvane.core.store.raw_sql import Tx
from windvane.core.task_api.metadata import TriggeredRun
from windvane.errors import NotFoundError, WindvaneError


class RawRunMetadata:
    """A :class:`~windvane.core.task_api.metadata.RunMetadata` on the database at ``db_url``."""

    def __init__(self, db_url: str) -> None:
        self._db_url = db_url
        self._db: RawDb | None = None

    @property
    def db(self) -> RawDb:
        if self._db is None:
            self._db = RawDb(self._db_url)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- reading -----------------------------------------------------------------------------------
    def dag_task_ids(self, dag_id: str) -> frozenset[str] | None:
        stored = self.db.read(lambda tx: sql.stored_dag(tx, dag_id))
        return None if stored is None else frozenset(stored.dag.tasks)

    def run_states(self, dag_id: str, logical_dates: Sequence[datetime]) -> list[tuple[datetime, str]]:
        return self.db.read(lambda tx: sql.run_states(tx, dag_id, logical_dates))

    def ti_states(
        self,
        dag_id: str,
        logical_dates: Sequence[datetime],
        *,
        task_ids: Sequence[str] | None = None,
        group_id: str | None = None,
    ) -> list[tuple[datetime, str, str]]:
        return self.db.read(
            lambda tx: sql.ti_states(tx, dag_id, logical_dates, task_ids=task_ids, group_id=group_id)
        )

    def run_state(self, dag_id: str, run_id: str) -> str | None:
        found = self.db.read(lambda tx: sql.run_by_id(tx, dag_id, run_id))
        return None if found is None else found[1]

    # -- triggering --------------------------------------------------------------------------------
    def trigger_run(
        self,
        dag_id: str,
        *,
        run_id: str | None,
        logical_date: datetime | None,
        conf: Mapping[str, Any],
        reset: bool,
    ) -> TriggeredRun:
        now = datetime.now(UTC)
        logical = pendulum.instance(logical_date or now).in_timezone("UTC")
        wanted = check_run_id(run_id or DagRunType.MANUAL.run_id(logical.isoformat()))

        def trigger(tx: Tx) -> TriggeredRun:
            stored = sql.stored_dag(tx, dag_id)
            if stored is None:
                raise NotFoundError(f"cannot trigger DAG {dag_id!r}: no such DAG in the metadata database")
            existing = sql.run_by_id(tx, dag_id, wanted)
            if existing is not None:
                if not reset:
                    raise WindvaneError(
                        f"DAG {dag_id!r} already has a run with run_id {wanted!r} "
                        "(set reset_dag_run=True to clear it and run it again)"
                    )
                sql.reset_run(tx, stored, existing[0], now)
                return TriggeredRun(dag_id, wanted, logical, reset=True)
            sql.insert_manual_run(tx, stored, run_id=wanted, logical_date=logical, conf=conf, now=now)
            return TriggeredRun(dag_id, wanted, logical)

        return self.db.write(trigger)
