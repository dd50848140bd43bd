"""``windvane alerts list | test | silence`` against a real database and a real SMTP server."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from windvane.alerting import outbox
from windvane.alerting.alert import AlertKind
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
    assert code == 0 and "task 'load' of DAG 'etl'" in out and "unsilence 1" in out
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


def test_silences_lists_active_and_recent_ones_and_unsilence_ends_one(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(home, capsys, "alerts", "silences")
    assert code == 0 and "No silences." in out + err
    run(home, capsys, "alerts", "silence", "--dag", "etl", "--for", "2h", "--reason", "deploy")
    run(
        home,
        capsys,
        "alerts",
        "silence",
        "--dag",
        "ml",
        "--task",
        "train",
        "--for",
        "1d",
        "--reason",
        "flaky GPU",
    )
    code, out, _ = run(home, capsys, "alerts", "silences", "-o", "json")
    listed = json.loads(out)
    assert code == 0 and [(s["id"], s["dag_id"], s["task_id"], s["state"]) for s in listed] == [
        (2, "ml", "train", "active"),
        (1, "etl", "", "active"),
    ]
    assert listed[1]["reason"] == "deploy" and "@" in listed[1]["created_by"] and listed[1]["expires_at"]

    code, out, _ = run(home, capsys, "alerts", "unsilence", "1")
    assert code == 0 and "Silence 1 ended" in out
    [etl] = [s for s in json.loads(run(home, capsys, "alerts", "silences", "-o", "json")[1]) if s["id"] == 1]
    assert etl["state"] == "expired" and "@" in etl["ended_by"]
    code, out, _ = run(home, capsys, "alerts", "unsilence", "1")
    assert code == 0 and "already ended" in out
    code, _, err = run(home, capsys, "alerts", "unsilence", "99")
    assert code != 0 and "no silence with id 99" in err
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    try:
        with begin_read(engine) as conn:
            assert [s.id for s in active_silences(conn, now=datetime.now(UTC))] == [2]
    finally:
        engine.dispose()


def test_list_shows_held_back_alerts_with_why(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    engine = create_db_engine(f"sqlite:///{home / 'windvane.db'}")
    now = datetime.now(UTC)
    try:
        with begin_write(engine) as conn:
            run_row = outbox.insert(conn, alert(0, kind=AlertKind.RUN_FAILED), "slack", now=now)
            outbox.insert(
                conn, alert(1), "slack", now=now, state="superseded", merged_into=run_row, note="by run"
            )
            outbox.insert(conn, alert(2), "slack", now=now, state="silenced", note="silence 3: deploy")
    finally:
        engine.dispose()
    code, out, _ = run(home, capsys, "alerts", "list", "--state", "superseded", "-o", "json")
    [row] = json.loads(out)
    assert code == 0 and row["with"] == f"#{run_row}" and row["note"] == "by run"
    code, out, _ = run(home, capsys, "alerts", "list", "--dag", "d")
    assert code == 0 and "silenced" in out and "silence 3: deploy" in out
    assert json.loads(run(home, capsys, "alerts", "list", "--dag", "other", "-o", "json")[1]) == []
