"""How the I/O operators reach their servers outside a test's own process: cheap imports for DAG
files, the ``[smtp]`` settings in a LocalExecutor worker and in the CLI, serialization."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pendulum
import pytest
from sqlalchemy import Engine

from tests.alerting.conftest import SmtpServer
from windvane import DAG, EmailOperator, HttpOperator, SQLExecuteQueryOperator
from windvane.cli.main import main
from windvane.cli.wiring import install_task_settings, smtp_params
from windvane.core.authoring.defaults import get_authoring_defaults, set_authoring_defaults
from windvane.core.authoring.serialize import serialize_dag
from windvane.core.executors.local import LocalExecutor
from windvane.core.task_api import mailer
from windvane.core.task_api.mailer import SmtpParams
from windvane.settings import load_settings
from windvane.testing import collect_events, queued_try, write_dag_file

EMAIL_DAG = """
from datetime import datetime, timezone
from windvane import DAG, EmailOperator

with DAG("mailer", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=timezone.utc)) as dag:
    EmailOperator(task_id="notify", to="ops@example.org", subject="run {{ run_id }}",
                  html_content="<p>{{ dag.dag_id }} done</p>")
"""


def test_importing_windvane_loads_no_client_library() -> None:
    """DAG files import these operators; SQLAlchemy, httpx and aiosmtplib load only when a task runs."""
    code = (
        "import sys, windvane; "
        "print([m for m in ('sqlalchemy', 'httpx', 'aiosmtplib', 'pymysql', 'psycopg') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_local_executor_worker_sends_through_the_smtp_it_was_given(
    sqlite_engine: Engine, tmp_path: Path, mail_server: SmtpServer
) -> None:
    dag_file = write_dag_file(tmp_path, EMAIL_DAG)
    executor = LocalExecutor(
        1,
        db_url=sqlite_engine.url.render_as_string(hide_password=False),
        log_folder=str(tmp_path / "logs"),
        smtp=SmtpParams(host=mail_server.host, port=mail_server.port, mail_from="worker@example.org"),
    )
    executor.start()
    try:
        executor.queue(queued_try(sqlite_engine, dag_file, "mailer", "notify"))
        final, _ = collect_events(executor, 1)
    finally:
        executor.end()
    assert final[0].state == "success", final[0].error
    (mail,) = mail_server.received
    assert mail.mail_from == "worker@example.org" and mail.part("html") == "<p>mailer done</p>"


def test_the_cli_installs_the_smtp_settings(tmp_path: Path) -> None:
    smtp = {"host": "mail.example.org", "port": 587, "starttls": True}
    settings = load_settings(home=tmp_path, environ={}, overrides={"smtp": smtp})
    try:
        install_task_settings(settings)
        installed = mailer.installed_smtp_params()
        assert installed is not None and (installed.address, installed.starttls) == (
            "mail.example.org:587",
            True,
        )
    finally:
        mailer.install_smtp_params(None)
    assert smtp_params(load_settings(home=tmp_path, environ={})) is None


def test_dags_test_sends_through_the_smtp_settings(
    tmp_path: Path, mail_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``windvane dags test`` runs tasks in its own process, with ``[smtp]`` installed by the CLI."""
    for name in [n for n in os.environ if n.startswith("WINDVANE")]:
        monkeypatch.delenv(name)
    dags = tmp_path / "dags"
    dags.mkdir()
    write_dag_file(dags, EMAIL_DAG, "mailer.py")
    (tmp_path / "windvane.toml").write_text(
        f"[core]\ndags_folder = {json.dumps(str(dags))}\n\n"
        f'[smtp]\nhost = "{mail_server.host}"\nport = {mail_server.port}\nmail_from = "cli@example.org"\n'
    )
    defaults, root = get_authoring_defaults(), logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        assert main(["--home", str(tmp_path), "dags", "test", "mailer", "2024-03-01"]) == 0
    finally:
        set_authoring_defaults(defaults)
        root.setLevel(level)
        root.handlers[:] = handlers
        mailer.install_smtp_params(None)
    (mail,) = mail_server.received
    assert mail.mail_from == "cli@example.org"
    assert mail.message["Subject"] == "run manual__2024-03-01T00:00:00+00:00"


def test_dags_with_the_io_operators_serialize() -> None:
    with DAG("io", schedule="@daily", start_date=pendulum.datetime(2024, 1, 1, tz="UTC")) as dag:
        q = SQLExecuteQueryOperator(task_id="q", conn_id="db", sql=["SELECT 1", "SELECT 2"])
        h = HttpOperator(task_id="h", endpoint="x", response_check=lambda r: True)
        e = EmailOperator(task_id="e", to=["a@x"], subject="s", html_content="h", retries=2)
        q >> h >> e
    serialized = serialize_dag(dag)
    tasks = serialized.tasks
    assert tasks["q"].operator == "SQLExecuteQueryOperator" and tasks["e"].retries == 2
    assert json.loads(json.dumps(serialized.to_dict()))["dag_id"] == "io"
