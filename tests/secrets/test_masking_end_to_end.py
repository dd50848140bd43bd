"""A task that prints, logs, templates and raises its secrets: no output channel shows one.

Real parts throughout: the CLI stores a Connection and Variables in the metadata DB, the DAG
processor parses the file, ``tasks run`` runs each try through the worker path (claim, forked
child, log file, final write, journal), the alert relay turns the failures into outbox rows.
Then every channel is grepped for every form of every secret: the log files, the task
instances' and the journal's stored errors, the outbox payloads, and the CLI's ``tasks logs``,
``tasks state``, ``connections get``, ``variables list`` / ``get`` and ``dags test`` output.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import pendulum
from sqlalchemy import text

from windvane.alerting.dispatcher import AlertDispatcher
from windvane.alerting.service import create
from windvane.cli.services import ServiceContext
from windvane.cli.wiring import create_engine
from windvane.settings import load_settings
from windvane.testing import write_dag_file

from ..cli.conftest import RunCli

PASSWORD = "Pa55 w0rd@leaky"  # a space and an @: its URL-encoded forms differ from it
TOKEN = "tok-5f1e2d3c4b"  # masked for its key's name (service_token)
FLAGGED = "flagval-9a8b7c"  # masked because it was set --sensitive (its key says nothing)
PLAIN = "not-secret-xyz"  # an ordinary value: shown as it is
SECRET_FORMS = [
    PASSWORD,
    quote(PASSWORD, safe=""),
    quote_plus(PASSWORD, safe=""),
    TOKEN,
    FLAGGED,
]
RUN_ID = "manual__2024-02-01T00:00:00+00:00"

LEAKY_DAG = """
import logging
import subprocess
import urllib.parse

import pendulum
from windvane import DAG, BaseHook, BashOperator, PythonOperator, Variable


def leak():
    conn = BaseHook.get_connection("leaky_db")
    print("the password is", conn.password)
    print("encoded", urllib.parse.quote(conn.password, safe=""), urllib.parse.quote_plus(conn.password))
    print("token", Variable.get("service_token"), "flagged", Variable.get("flagged"), end="")
    print(" and plain", Variable.get("plain"))
    logging.getLogger("user").warning("logged %s", conn.password)
    subprocess.run(["echo", "raw from a subprocess:", conn.password], check=True)  # fd 1, not sys.stdout
    raise ValueError("could not log in with " + conn.password + " / " + Variable.get("flagged"))


with DAG("leaky", schedule=None, start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
         default_args={"retries": 0}):
    PythonOperator(task_id="leak", python_callable=leak)
    BashOperator(
        task_id="templated",
        bash_command="echo {{ conn.leaky_db.password }} {{ var.value.service_token }} "
        "{{ var.json.cfg.inner.deep }} {{ conn.leaky_db.host }} && exit 3",
    )
"""


def _assert_clean(where: str, found: str) -> None:
    for form in SECRET_FORMS:
        assert form not in found, f"{where} shows the secret {form!r}:\n{found}"


def test_no_channel_shows_a_secret(run_cli: RunCli, home: Path, dags_folder: Path) -> None:
    write_dag_file(dags_folder, LEAKY_DAG, "leaky.py")
    assert run_cli("db", "migrate").code == 0
    uri = f"postgresql://bob:{quote(PASSWORD, safe='')}@db.example:5432/sales"
    assert run_cli("connections", "add", "leaky_db", "--conn-uri", uri).code == 0
    assert run_cli("variables", "set", "service_token", TOKEN).code == 0
    assert run_cli("variables", "set", "flagged", FLAGGED, "--sensitive").code == 0
    assert run_cli("variables", "set", "plain", PLAIN).code == 0
    assert run_cli("variables", "set", "cfg", json.dumps({"inner": {"deep": PLAIN}}), "--json").code == 0
    parsed = run_cli("dag-processor", "--num-runs", "1")
    assert parsed.code == 0, parsed.err

    settings = load_settings(
        home=home,
        environ={},
        overrides={
            "alerting": {"enabled": True, "task_failure_channels": ["webhook"]},
            "webhook": {"webhook_url": "http://127.0.0.1:9/hook"},
        },
    )
    engine = create_engine(settings)
    relay = create(ServiceContext(settings=settings, engine=engine))
    assert isinstance(relay, AlertDispatcher)
    relay.relay.register(pendulum.now("UTC"))

    assert run_cli("dags", "trigger", "leaky", "--logical-date", "2024-02-01").code == 0
    for task_id in ("leak", "templated"):
        ran = run_cli("tasks", "run", "leaky", task_id, RUN_ID)
        assert ran.code in (0, 1), ran.err
        _assert_clean(f"`tasks run {task_id}` output", ran.out + ran.err)
    relay.relay.run_once(pendulum.now("UTC"))

    # 1. the log files, with what the tasks printed, logged and rendered
    logs = home / "logs" / "dag_id=leaky" / f"run_id={RUN_ID}"
    leak_log = (logs / "task_id=leak" / "attempt=1.log").read_text()
    templated_log = (logs / "task_id=templated" / "attempt=1.log").read_text()
    _assert_clean("the log of leak", leak_log)
    _assert_clean("the log of templated", templated_log)
    assert "the password is ***" in leak_log
    assert "encoded *** ***" in leak_log
    assert f"token *** flagged *** and plain {PLAIN}" in leak_log
    assert "logged ***" in leak_log
    assert "raw from a subprocess: ***" in leak_log
    assert "ValueError: could not log in with *** / ***" in leak_log
    assert f"*** *** {PLAIN} db.example" in templated_log  # the rendered command and its output

    # 2. the errors stored in the database: task instances and the state-change journal
    with engine.connect() as db:
        ti_rows = db.execute(
            text("SELECT task_id, state, error FROM task_instance WHERE dag_id = 'leaky'")
        ).all()
        journal = db.execute(text("SELECT error FROM state_journal WHERE dag_id = 'leaky'")).scalars().all()
        outbox = db.execute(text("SELECT payload FROM alert_outbox WHERE dag_id = 'leaky'")).scalars().all()
    assert {row.task_id: row.state for row in ti_rows} == {"leak": "failed", "templated": "failed"}
    stored = "\n".join(e for e in [*journal, *(row.error for row in ti_rows)] if e)
    assert "could not log in with *** / ***" in stored
    _assert_clean("the journal's errors", stored)

    # 3. the alert payloads waiting in the outbox
    assert len(outbox) == 2
    payloads = "\n".join(p if isinstance(p, str) else json.dumps(p) for p in outbox)
    assert "***" in payloads
    _assert_clean("the alert outbox", payloads)

    # 4. the CLI
    for command in (
        ("tasks", "logs", "leaky", "leak", RUN_ID),
        ("tasks", "logs", "leaky", "templated", RUN_ID),
        ("tasks", "state", "leaky", "leak", RUN_ID),
        ("tasks", "states-for-dag-run", "leaky", RUN_ID),
        ("connections", "get", "leaky_db"),
        ("connections", "get", "leaky_db", "-o", "json"),
        ("connections", "list"),
        ("connections", "export", "-"),
        ("variables", "list"),
        ("variables", "get", "service_token"),
        ("variables", "get", "flagged"),
        ("variables", "export", "-"),
        ("dags", "test", "leaky", "2024-03-01"),
        ("tasks", "test", "leaky", "leak", "2024-03-01"),
        ("tasks", "render", "leaky", "templated", "2024-03-01"),
    ):
        shown = run_cli(*command)
        assert shown.code in (0, 1), (command, shown.err)
        _assert_clean(" ".join(command), shown.out + shown.err)
    engine.dispose()

    rendered = run_cli("tasks", "render", "leaky", "templated")
    assert rendered.out.startswith(f"# bash_command\necho *** *** {PLAIN} db.example && exit 3\n# env\n")

    # asked for explicitly, the secrets are shown
    assert PASSWORD in run_cli("connections", "get", "leaky_db", "--show-secrets", "-o", "json").out
    assert run_cli("variables", "get", "flagged", "--show-secrets").out.strip() == FLAGGED
