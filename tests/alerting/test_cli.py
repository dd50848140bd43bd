"""``windvane alerts list | test | silence`` against a real database and a real SMTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from windvane.alerting import outbox
from windvane.alerting.silences import active_silences
from windvane.cli.main import main
from windvane.core.store.engine import begin_read, begin_write, create_db_engine

from .conftest import SmtpServer, free_port
from .fakes import alert


def run(home: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--home", str(home), *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(tmp_path, capsys, "db", "migrate")[0] == 0
    return tmp_path


def configure_smtp(home: Path, host: str, port: int) -> None:
    (home / "windvane.toml").write_text(f'[smtp]\nhost = "{host}"\nport = {port}\n', encoding="utf-8")


def test_list_shows_the_outbox(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(home, capsys, "alerts", "list")
    assert code == 0 and "No alerts." in out + err
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_write(engine) as conn:
            outbox.add(conn, alert(), "email", now=datetime.now(UTC))
    finally:
        engine.dispose()
    code, out, _ = run(home, capsys, "alerts", "list", "-o", "json")
    [row] = json.loads(out)
    assert code == 0 and row["state"] == "pending" and row["channel"] == "email"
    assert json.loads(run(home, capsys, "alerts", "list", "--state", "sent", "-o", "json")[1]) == []


def test_test_sends_through_the_configured_channel(
    home: Path, capsys: pytest.CaptureFixture[str], smtp_server: SmtpServer
) -> None:
    configure_smtp(home, smtp_server.host, smtp_server.port)
    code, out, _ = run(home, capsys, "alerts", "test", "--channel", "email", "--to", "ops@work.com")
    assert code == 0 and "sent through email" in out
    [mail] = smtp_server.received
    assert mail.rcpt_tos == ["ops@work.com"]


def test_test_reports_the_exact_error(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()  # nothing listens there
    configure_smtp(home, "127.0.0.1", port)
    code, out, _ = run(home, capsys, "alerts", "test", "--channel", "email", "--to", "ops@work.com")
    assert code == 1 and f"127.0.0.1:{port}" in out and "retryable" in out


def test_an_unconfigured_channel_is_a_usage_error_naming_the_configured_ones(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(home, capsys, "alerts", "test", "--channel", "slack")
    assert code == 2 and "'slack' is not configured (configured: none)" in err


def test_silence_records_an_expiring_silence(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(home, capsys, "alerts", "silence", "--dag", "etl", "--task", "load", "--for", "2h",
                       "--reason", "maintenance")  # fmt: skip
    assert code == 0 and "task 'load' of DAG 'etl'" in out
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_read(engine) as conn:
            [silence] = active_silences(conn, now=datetime.now(UTC))
    finally:
        engine.dispose()
    assert (silence.dag_id, silence.task_id, silence.reason) == ("etl", "load", "maintenance")
    hours = (silence.until - datetime.now(UTC)).total_seconds() / 3600
    assert 1.9 < hours <= 2.0


def test_a_bad_duration_names_the_argument(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(home, capsys, "alerts", "silence", "--dag", "etl", "--for", "soon", "--reason", "x")
    assert code == 2 and "argument --for: not a duration like 30m, 2h or 1d: 'soon'" in err
