"""The UI's one-request-per-page reads (``/api/v1/ui/...``), on SQLite and PostgreSQL, and the UI
shell and static files the same app serves."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from windvane import __version__
from windvane.api.users import Role

Client = Callable[[Role], TestClient]
V1 = "/api/v1"


def _trigger(client: TestClient, run_id: str, day: int) -> None:
    body = {"run_id": run_id, "logical_date": f"2024-01-{day:02d}T00:00:00Z"}
    assert client.post(f"{V1}/dags/etl/dagRuns", json=body).status_code == 201


def test_recent_runs_are_the_newest_per_dag(client: Client, example_dag: str) -> None:
    operator = client(Role.OPERATOR)
    for day in range(1, 5):
        _trigger(operator, f"r{day}", day)
    viewer = client(Role.VIEWER)
    body = viewer.get(f"{V1}/ui/recentRuns", params={"dag_ids": ["etl", "nope"], "runs": 3}).json()
    assert [r["run_id"] for r in body["runs"]["etl"]] == ["r4", "r3", "r2"]
    assert body["runs"]["nope"] == []
    many = [f"a{i:03}" for i in range(149)] + ["etl"]  # etl in the second statement of 100 DAGs
    body = viewer.get(f"{V1}/ui/recentRuns", params={"dag_ids": many, "runs": 2}).json()
    assert len(body["runs"]) == 150 and [r["run_id"] for r in body["runs"]["etl"]] == ["r4", "r3"]
    assert viewer.get(f"{V1}/ui/recentRuns", params={"dag_ids": "etl", "runs": 51}).status_code == 422


def test_grid_has_the_runs_and_their_task_instances(client: Client, example_dag: str) -> None:
    operator = client(Role.OPERATOR)
    _trigger(operator, "first", 1)
    _trigger(operator, "second", 2)
    mark = {"state": "failed", "downstream": False}
    assert operator.patch(f"{V1}/dags/etl/dagRuns/second/taskInstances/load", json=mark).status_code == 200
    grid = client(Role.VIEWER).get(f"{V1}/ui/dags/etl/grid", params={"runs": 1}).json()
    assert [r["run_id"] for r in grid["dag_runs"]] == ["second"]
    cells = {(c["run_id"], c["task_id"]): c["state"] for c in grid["task_instances"]}
    assert set(cells) == {("second", t) for t in ("extract", "transform", "load")}
    assert cells["second", "load"] == "failed"
    assert client(Role.VIEWER).get(f"{V1}/ui/dags/nope/grid").status_code == 404


def test_pools_and_health_panel_count_what_holds_slots(client: Client, example_dag: str) -> None:
    admin = client(Role.ADMIN)
    assert admin.post(f"{V1}/pools", json={"name": "db", "slots": 2}).status_code == 201
    _trigger(client(Role.OPERATOR), "r", 1)
    pools = {p["name"]: p for p in client(Role.VIEWER).get(f"{V1}/ui/pools").json()["pools"]}
    expected = {"name": "db", "slots": 2, "description": None, "running": 0, "queued": 0, "open": 2}
    assert pools["db"] == expected
    panel = client(Role.VIEWER).get(f"{V1}/ui/healthPanel").json()
    assert panel["open_slots"] == panel["total_slots"] == pools["default_pool"]["slots"] + 2
    assert panel["queued"] == panel["running"] == 0 and panel["import_errors"] == 0
    assert panel["scheduler"]["status"] == "unknown" and panel["scheduler_loop_p95_seconds"] is None


def test_the_ui_shell_and_its_files(client: Client) -> None:
    anyone = client(Role.VIEWER)
    assert anyone.get("/", follow_redirects=False).headers["location"] == "/ui/"
    shell = anyone.get("/ui/")
    assert shell.status_code == 200 and f"/ui/static/assets/app.js?v={__version__}" in shell.text
    assert "frame-ancestors 'none'" in shell.headers["content-security-policy"]
    script = anyone.get("/ui/static/assets/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert anyone.get("/ui/static/nope.js").status_code == 404
    assert "/ui/" not in anyone.get(f"{V1}/openapi.json").json()["paths"]


def test_a_static_file_has_one_etag_and_answers_its_own_if_none_match(client: Client) -> None:
    """Regression: the ETag middleware added a weak tag of its own beside StaticFiles' tag (two
    ETag headers on every UI file, and a browser's If-None-Match never matched either)."""
    anyone = client(Role.VIEWER)
    script = anyone.get("/ui/static/assets/app.js")
    tags = script.headers.get_list("etag")
    assert len(tags) == 1 and not tags[0].startswith('W/"W/'), tags
    again = anyone.get("/ui/static/assets/app.js", headers={"If-None-Match": tags[0]})
    assert again.status_code == 304 and again.headers.get_list("etag") == tags
    api = anyone.get(f"{V1}/version")
    assert len(api.headers.get_list("etag")) == 1 and api.headers["etag"].startswith('W/"')
    assert anyone.get(f"{V1}/version", headers={"If-None-Match": api.headers["etag"]}).status_code == 304
