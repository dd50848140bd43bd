"""The alerting plug-in's seams: its migration branch, its schema, its service factory."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from windvane.alerting.alert import AlertKind
from windvane.alerting.dispatcher import AlertDispatcher
from windvane.alerting.service import AlertingOff, create
from windvane.alerting.tables import metadata
from windvane.cli.main import main
from windvane.cli.services import ServiceContext, load_services
from windvane.core.interfaces import Service
from windvane.core.store.engine import create_db_engine
from windvane.core.store.migrate import (
    check,
    drop_all,
    head_revision,
    head_revisions,
    plugin_version_locations,
)
from windvane.metrics import RecordingSink
from windvane.plugins import MIGRATIONS_GROUP, SERVICES_GROUP
from windvane.settings import load_settings

from .fakes import Recording


def test_the_branch_is_declared_and_depends_on_cores_head() -> None:
    [entry] = [e for e in importlib.metadata.entry_points(group=MIGRATIONS_GROUP) if e.name == "alerting"]
    assert entry.value == "windvane.alerting.migrations"
    assert any(
        path.name == "migrations" and path.parent.name == "alerting" for path in plugin_version_locations()
    )
    assert head_revision() in head_revisions() and "alerting_0003" in head_revisions()


def test_windvane_db_migrate_creates_and_reset_recreates_the_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(tmp_path), "db", "migrate"]) == 0
    assert "alerting_0003" in capsys.readouterr().out
    engine = create_db_engine(f"sqlite:///{tmp_path / 'windvane.db'}")
    try:
        assert {"alert_outbox", "alert_silence"} <= set(inspect(engine).get_table_names())
        assert check(engine).is_current
        assert main(["--home", str(tmp_path), "db", "check-migrations"]) == 0
        drop_all(engine)  # the branch is downgraded: its tables go too
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_migrated_tables_match_tables_py(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: kind != "table" or name in metadata.tables,
            },
        )
        assert compare_metadata(context, metadata) == []


def context(tmp_path: Path, engine: Engine, **alerting: object) -> ServiceContext:
    settings = load_settings(home=tmp_path, environ={}, overrides={"alerting": alerting})
    return ServiceContext(settings=settings, engine=engine, metrics=RecordingSink())


def test_the_service_entry_point_builds_the_dispatcher_from_settings(tmp_path: Path, engine: Engine) -> None:
    [entry] = [
        e for e in importlib.metadata.entry_points(group=SERVICES_GROUP) if e.name == "alert_dispatcher"
    ]
    assert entry.load() is create

    off, failures = load_services(context(tmp_path, engine), lambda group: [entry])
    assert failures == 0 and isinstance(off[0], AlertingOff) and isinstance(off[0], Service)
    off[0].start()
    off[0].stop()

    on = context(
        tmp_path,
        engine,
        enabled=True,
        poll_interval_seconds=0.5,
        backoff_base_seconds=3,
        concurrency=2,
        run_failure_channels=["slack"],
    )
    service = create(on, {"slack": Recording("slack")})
    assert isinstance(service, AlertDispatcher) and isinstance(service, Service)
    assert (service.config.poll_interval, service.config.backoff.base, service.config.concurrency) == (
        0.5,
        3.0,
        2,
    )
    assert service.relay.routing.channels(AlertKind.RUN_FAILED, "d") == ("slack",)
    assert service.metrics is on.metrics
    service.start()
    service.stop()
