"""``windvane db migrate | reset | check | check-migrations | clean``."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from windvane.core.store import journal
from windvane.core.store.engine import begin_write, create_db_engine
from windvane.core.store.journal_sql import JournalBatch
from windvane.core.store.sql_bridge import dbapi_tx

from ..store.helpers import add_run
from .conftest import RunCli


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_check_migrations_migrate_check_migrations(run_cli: RunCli) -> None:
    before = run_cli("db", "check-migrations")
    assert before.code == 1
    assert "empty (no schema)" in before.out and "run 'windvane db migrate'" in before.out
    migrated = run_cli("db", "migrate")
    assert migrated.code == 0 and "is at revision" in migrated.out
    assert run_cli("db", "migrate").code == 0  # again: nothing to do
    after = run_cli("db", "check-migrations")
    assert after.code == 0 and "is current" in after.out


def test_check_migrations_waits_up_to_its_timeout_then_fails(run_cli: RunCli) -> None:
    waited = run_cli("db", "check-migrations", "--migration-wait-timeout", "1")
    assert waited.code == 1 and "empty (no schema)" in waited.out
    assert run_cli("db", "check-migrations", "-t", "-1").code == 2  # a usage error names the option


def test_check_is_airflows_reachability_check_not_a_schema_check(run_cli: RunCli) -> None:
    reachable = run_cli("db", "check")  # an empty database is reachable: its schema is check-migrations' job
    assert reachable.code == 0 and "is reachable (sqlite " in reachable.out


def test_check_fails_naming_a_database_it_cannot_reach(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = "postgresql+psycopg://windvane:secret@127.0.0.1:1/windvane"  # nothing listens on port 1
    monkeypatch.setenv("WINDVANE__DATABASE__SQL_ALCHEMY_CONN", closed)
    result = run_cli("db", "check")
    assert result.code == 1
    assert "cannot reach the metadata database 'postgresql+psycopg://windvane:***@127.0.0.1:1/windvane'" in (
        result.err
    )
    assert "secret" not in result.err + result.out


def test_reset_without_yes_and_without_a_terminal_refuses(
    run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("pools", "set", "keep_me", "3").code == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    refused = run_cli("db", "reset")
    assert refused.code == 2
    assert "refusing to reset the database" in refused.err and "--yes" in refused.err
    assert "keep_me" in run_cli("pools", "list", "-o", "plain").out


def test_reset_on_a_terminal_asks(run_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("pools", "set", "keep_me", "3").code == 0
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    declined = run_cli("db", "reset")
    assert declined.code == 1 and "Aborted" in declined.err
    assert "keep_me" in run_cli("pools", "list", "-o", "plain").out
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    assert run_cli("db", "reset").code == 0
    assert "keep_me" not in run_cli("pools", "list", "-o", "plain").out


def test_reset_with_yes_drops_data_and_migrates(run_cli: RunCli) -> None:
    assert run_cli("db", "migrate").code == 0
    assert run_cli("pools", "set", "gone", "3").code == 0
    result = run_cli("db", "reset", "--yes")
    assert result.code == 0 and "was reset" in result.out
    pools = run_cli("pools", "list", "-o", "plain").out
    assert "gone" not in pools and "default_pool" in pools
    assert run_cli("db", "check-migrations").code == 0


def test_clean_deletes_old_journal_entries_every_consumer_read(run_cli: RunCli, home: Path) -> None:
    assert run_cli("db", "migrate").code == 0
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_write(engine) as conn:
            for i, age in enumerate((400, 300, 1)):
                run = add_run(conn, "d", f"r{i}", state="success")
                batch = JournalBatch(datetime.now(UTC) - timedelta(days=age))
                batch.add_runs([(run, "success")])
                batch.write(dbapi_tx(conn))
            oldest = journal.read_after(conn, 0, 1)[0].id
            journal.register_consumer(conn, "alerts", from_start=True)
            journal.advance(conn, "alerts", oldest)
    finally:
        engine.dispose()
    dry = run_cli("db", "clean", "--older-than", "30", "--dry-run")
    assert dry.code == 0 and "Would delete 1 journal entry recorded before" in dry.out
    assert f"Entries after id {oldest} are kept until consumer 'alerts' reads them" in dry.out
    done = run_cli("db", "clean", "--older-than", "30")
    assert done.code == 0 and "Deleted 1 journal entry" in done.out
    assert "Deleted 0 journal entries" in run_cli("db", "clean", "--older-than", "30").out


@pytest.mark.parametrize("days", ["soon", "-1", "nan"])
def test_clean_refuses_a_bad_number_of_days(run_cli: RunCli, days: str) -> None:
    result = run_cli("db", "clean", "--older-than", days)
    assert result.code == 2 and "argument --older-than:" in result.err and repr(days) in result.err
