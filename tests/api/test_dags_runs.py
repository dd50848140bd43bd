"""DAGs, runs and task instances through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.conftest import NOW
from windvane.api import tables as api_tables
from windvane.api.logs import log_path
from windvane.api.users import Role
from windvane.core.store.engine import begin_read, begin_write
from windvane.core.store.import_errors import replace_import_error
from windvane.core.store.listing import run_pk_of
from windvane.testing.rows import ti_states_of_run


def listing_pk(engine: Engine) -> int:
    with begin_read(engine) as conn:
        return run_pk_of(conn, "etl", "my_run")


Client = Callable[[Role], TestClient]
V1 = "/api/v1"


def test_dags_list_filters_and_pages(client: Client, example_dag: str) -> None:
    viewer = client(Role.VIEWER)
    body = viewer.get(f"{V1}/dags").json()
    assert body["total_entries"] == 1 and body["dags"][0]["dag_id"] == "etl"
    assert viewer.get(f"{V1}/dags", params={"tags": "team-a"}).json()["total_entries"] == 1
    assert viewer.get(f"{V1}/dags", params={"tags": "other"}).json()["total_entries"] == 0
    assert viewer.get(f"{V1}/dags", params={"dag_id_pattern": "ET"}).json()["total_entries"] == 1
    assert viewer.get(f"{V1}/dags", params={"dag_id_pattern": "e%"}).json()["total_entries"] == 0
    assert viewer.get(f"{V1}/dags", params={"paused": True}).json()["total_entries"] == 0
    page = viewer.get(f"{V1}/dags", params={"offset": 1}).json()
    assert page == {"dags": [], "total_entries": 1}
    assert viewer.get(f"{V1}/dags/nope").status_code == 404


def test_pause_needs_operator_and_is_audited(client: Client, example_dag: str) -> None:
    assert client(Role.VIEWER).patch(f"{V1}/dags/etl", json={"is_paused": True}).status_code == 403
    response = client(Role.OPERATOR).patch(f"{V1}/dags/etl", json={"is_paused": True})
    assert response.status_code == 200 and response.json()["is_paused"] is True
    log = client(Role.VIEWER).get(f"{V1}/audit-log").json()["audit_log"]
    assert [(e["username"], e["action"], e["result"]) for e in log[:2]] == [
        ("operator", "patch_dag", "success"),
        ("viewer", "patch_dag", "denied"),
    ]
    assert log[0]["target"] == "/api/v1/dags/etl"


def test_structure_has_tasks_and_edges(client: Client, example_dag: str) -> None:
    body = client(Role.VIEWER).get(f"{V1}/dags/etl/structure").json()
    assert {t["task_id"] for t in body["tasks"]} == {"extract", "transform", "load"}
    assert {(e["source"], e["target"]) for e in body["edges"]} == {
        ("extract", "transform"),
        ("transform", "load"),
    }


def test_trigger_list_get_clear_and_mark(client: Client, example_dag: str, engine: Engine) -> None:
    operator = client(Role.OPERATOR)
    assert client(Role.VIEWER).post(f"{V1}/dags/etl/dagRuns", json={}).status_code == 403
    made = operator.post(
        f"{V1}/dags/etl/dagRuns",
        json={"conf": {"n": 1}, "run_id": "my_run", "logical_date": "2024-01-05T00:00:00Z"},
    )
    assert made.status_code == 201, made.text
    assert made.json()["conf"] == {"n": 1} and made.json()["state"] == "queued"
    assert operator.post(f"{V1}/dags/etl/dagRuns", json={"run_id": "my_run"}).status_code == 409
    bad = operator.post(f"{V1}/dags/etl/dagRuns", json={"run_id": "a/b"})
    assert bad.status_code == 400 and "a/b" in bad.json()["detail"]
    assert operator.post(f"{V1}/dags/nope/dagRuns", json={}).status_code == 404

    runs = operator.get(f"{V1}/dags/etl/dagRuns", params={"state": "queued"}).json()
    assert [r["run_id"] for r in runs["dag_runs"]] == ["my_run"]
    assert operator.get(f"{V1}/dagRuns", params={"state": "success"}).json()["total_entries"] == 0
    later = operator.get(f"{V1}/dagRuns", params={"logical_date_gte": "2024-01-06T00:00:00Z"}).json()
    assert later["total_entries"] == 0
    assert operator.get(f"{V1}/dags/etl/dagRuns/my_run").json()["run_id"] == "my_run"

    tis = operator.get(f"{V1}/dags/etl/dagRuns/my_run/taskInstances").json()
    assert [t["task_id"] for t in tis["task_instances"]] == ["extract", "load", "transform"]

    marked = operator.patch(f"{V1}/dags/etl/dagRuns/my_run/taskInstances/extract",
                            json={"state": "failed", "downstream": True})  # fmt: skip
    assert marked.json() == {"task_ids": ["extract", "load", "transform"]}
    detail = operator.get(f"{V1}/dags/etl/dagRuns/my_run/taskInstances/extract").json()
    assert detail["state"] == "failed" and detail["tries"] == []

    cleared = operator.post(f"{V1}/dags/etl/dagRuns/my_run/clearTaskInstances",
                            json={"task_ids": ["transform"], "upstream": True})  # fmt: skip
    assert cleared.json() == {"task_ids": ["extract", "transform"]}
    pk = operator.get(f"{V1}/dags/etl/dagRuns/my_run").json()
    assert pk["state"] == "queued"

    done = operator.patch(f"{V1}/dags/etl/dagRuns/my_run", json={"state": "success"})
    assert done.json()["state"] == "success"
    # Marking the run success left the failed task as it was: only it is cleared.
    assert operator.post(f"{V1}/dags/etl/dagRuns/my_run/clear", json={"only_failed": True}).json() == {
        "task_ids": ["load"]
    }
    assert ti_states_of_run(engine, listing_pk(engine))["load"] == "none"
    assert operator.patch(f"{V1}/dags/etl/dagRuns/my_run", json={"state": "running"}).status_code == 422


def test_logs_by_byte_offset(client: Client, example_dag: str, log_folder: Path) -> None:
    operator = client(Role.OPERATOR)
    operator.post(f"{V1}/dags/etl/dagRuns", json={"run_id": "r1"})
    path = log_path(log_folder, "etl", "r1", "extract", 1)
    path.parent.mkdir(parents=True)
    path.write_bytes("héllo\nworld\n".encode())
    url = f"{V1}/dags/etl/dagRuns/r1/taskInstances/extract/logs/1"
    first = operator.get(url, params={"limit": 2}).json()
    assert first["content"] == "h" and first["next_offset"] == 1  # never half a character
    rest = operator.get(url, params={"offset": first["next_offset"]}).json()
    assert rest["content"] == "éllo\nworld\n" and rest["next_offset"] == rest["size"] == 13
    assert operator.get(url, params={"offset": 13}).json()["content"] == ""
    missing = operator.get(f"{V1}/dags/etl/dagRuns/r1/taskInstances/extract/logs/2")
    assert missing.status_code == 404 and "try 2" in missing.json()["detail"]


def test_xcoms_and_etags(client: Client, example_dag: str, engine: Engine) -> None:
    viewer = client(Role.VIEWER)
    client(Role.OPERATOR).post(f"{V1}/dags/etl/dagRuns", json={"run_id": "r1"})
    url = f"{V1}/dags/etl/dagRuns/r1/taskInstances/extract/xcomEntries"
    assert viewer.get(url).json() == {"xcom_entries": []}
    first = viewer.get(f"{V1}/dags")
    tag = first.headers["etag"]
    again = viewer.get(f"{V1}/dags", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.content == b""
    client(Role.OPERATOR).patch(f"{V1}/dags/etl", json={"is_paused": True})
    assert viewer.get(f"{V1}/dags", headers={"If-None-Match": tag}).status_code == 200


def test_import_errors_are_listed(client: Client, engine: Engine) -> None:
    with begin_write(engine) as conn:
        replace_import_error(conn, "/dags/broken.py", "Traceback...\nSyntaxError: bad", NOW)
    body = client(Role.VIEWER).get(f"{V1}/importErrors").json()
    assert body["total_entries"] == 1
    assert body["import_errors"][0]["filename"] == "/dags/broken.py"
    assert "SyntaxError" in body["import_errors"][0]["stacktrace"]


def test_the_api_tables_match_their_migration(engine: Engine) -> None:
    with engine.connect() as conn:
        ours = set(api_tables.metadata.tables)
        opts = {"include_name": lambda name, kind, parent: kind != "table" or name in ours}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), api_tables.metadata)
    assert diff == []


def test_why_names_the_upstream_a_task_waits_on_and_404s_an_unknown_task(
    client: Client, example_dag: str
) -> None:
    operator = client(Role.OPERATOR)
    created = operator.post(f"{V1}/dags/etl/dagRuns", json={"run_id": "why_run"})
    assert created.status_code == 201, created.text
    viewer = client(Role.VIEWER)
    body = viewer.get(f"{V1}/dags/etl/dagRuns/why_run/taskInstances/transform/why").json()
    assert body["task_id"] == "transform" and body["ready"] is False
    assert body["verdict"] == "waiting"
    upstream = [r for r in body["reasons"] if r["code"] == "upstream_not_done"]
    assert upstream and "extract" in upstream[0]["message"]
    missing = viewer.get(f"{V1}/dags/etl/dagRuns/why_run/taskInstances/nope/why")
    assert missing.status_code == 404 and "nope" in missing.text
