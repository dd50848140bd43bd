"""Authentication, roles, CSRF, login rate limiting, pools, config and health through the API."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.conftest import PASSWORD
from windvane.api.auth_cache import AuthCache
from windvane.api.config import ApiConfig
from windvane.api.users import Role, delete_user, reset_password
from windvane.core.store.engine import begin_write

Client = Callable[[Role], TestClient]
V1 = "/api/v1"


def login(app: FastAPI, username: str, password: str = PASSWORD) -> TestClient:
    browser = TestClient(app)
    response = browser.post(f"{V1}/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return browser


def test_everything_but_health_needs_credentials(app: FastAPI, tokens: dict[Role, str]) -> None:
    anonymous = TestClient(app)
    health = anonymous.get(f"{V1}/health")
    assert health.status_code == 200
    assert health.json()["metadatabase"] == "healthy" and health.json()["scheduler"]["status"] == "unknown"
    for path in ("/version", "/dags", "/pools", "/config", "/audit-log", "/importErrors", "/dagRuns"):
        assert anonymous.get(V1 + path).status_code == 401, path
    wrong = TestClient(app, headers={"Authorization": "Bearer wv_not-a-token"})
    assert wrong.get(f"{V1}/dags").status_code == 401
    assert TestClient(app, cookies={"windvane_session": "forged.sig"}).get(f"{V1}/dags").status_code == 401


def test_cookie_session_needs_the_csrf_header_to_change_things(
    app: FastAPI, tokens: dict[Role, str], example_dag: str
) -> None:
    browser = login(app, "operator")
    assert browser.get(f"{V1}/auth/me").json() == {"username": "operator", "role": "operator"}
    refused = browser.patch(f"{V1}/dags/etl", json={"is_paused": True})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    csrf = browser.cookies["windvane_csrf"]
    wrong = browser.patch(f"{V1}/dags/etl", json={"is_paused": True}, headers={"X-CSRF-Token": "x" + csrf})
    assert wrong.status_code == 403
    ok = browser.patch(f"{V1}/dags/etl", json={"is_paused": True}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    # A bearer token never needs the header: no browser adds it by itself.
    bearer = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.OPERATOR]}"})
    assert bearer.patch(f"{V1}/dags/etl", json={"is_paused": False}).status_code == 200


def _remembering(app: FastAPI, seconds: float) -> list[float]:
    """Give ``app`` an auth cache of ``seconds`` on a clock the test moves (``clock[0]``)."""
    clock = [0.0]
    app.state.api = dataclasses.replace(app.state.api, auth=AuthCache(seconds, lambda: clock[0]))
    return clock


def test_password_reset_ends_sessions(app: FastAPI, tokens: dict[Role, str], engine: Engine) -> None:
    """Reset by another process (the CLI): the API process remembers the session's user for at most
    [api] auth_cache_seconds, then the session ends."""
    clock = _remembering(app, 5.0)
    browser = login(app, "viewer")
    assert browser.get(f"{V1}/dags").status_code == 200
    with begin_write(engine) as conn:
        reset_password(conn, "viewer", "another password")
    assert browser.get(f"{V1}/dags").status_code == 200  # still remembered
    clock[0] += 5.0
    assert browser.get(f"{V1}/dags").status_code == 401


def test_tokens_are_remembered_for_a_while_and_a_revocation_here_is_at_once(
    app: FastAPI, tokens: dict[Role, str], engine: Engine
) -> None:
    clock = _remembering(app, 5.0)
    owner = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"})
    made = owner.post(f"{V1}/auth/tokens", json={"name": "script"}).json()
    script = TestClient(app, headers={"Authorization": f"Bearer {made['token']}"})
    assert script.get(f"{V1}/version").status_code == 200
    assert owner.delete(f"{V1}/auth/tokens/{made['id']}").status_code == 204
    assert script.get(f"{V1}/version").status_code == 401  # revoked in this process: forgotten at once
    assert owner.get(f"{V1}/version").status_code == 200  # remembered again
    with begin_write(engine) as conn:  # deleted by another process: within auth_cache_seconds
        delete_user(conn, "viewer")
    assert owner.get(f"{V1}/version").status_code == 200
    clock[0] += 5.1
    assert owner.get(f"{V1}/version").status_code == 401


def _settled(app: FastAPI) -> None:
    """Wait (with a deadline) until no re-check of a remembered credential is under way."""
    deadline = time.monotonic() + 30
    while app.state.api.rechecks and time.monotonic() < deadline:
        time.sleep(0.01)  # polling a condition, with a deadline
    assert not app.state.api.rechecks


def test_a_credential_in_steady_use_is_rechecked_before_it_expires(
    app: FastAPI, tokens: dict[Role, str], engine: Engine
) -> None:
    """Past half of auth_cache_seconds the first request re-checks its credential off the request
    path: in steady use it never expires (no stampede of lookups), and a deletion elsewhere shows
    sooner, never later."""
    clock = _remembering(app, 5.0)
    with TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"}) as viewer:
        assert viewer.get(f"{V1}/version").status_code == 200
        clock[0] += 3.0  # past half its ttl: answered from memory, and re-checked meanwhile
        assert viewer.get(f"{V1}/version").status_code == 200
        _settled(app)
        clock[0] += 2.0  # 5 s after the first lookup: the re-check (at 3 s) remembered it afresh
        with begin_write(engine) as conn:  # deleted by another process
            delete_user(conn, "viewer")
        assert viewer.get(f"{V1}/version").status_code == 200  # within auth_cache_seconds
        clock[0] += 1.0  # due again (3 s since the re-check): this re-check finds it gone
        assert viewer.get(f"{V1}/version").status_code == 200
        _settled(app)
        assert viewer.get(f"{V1}/version").status_code == 401  # before the entry would have expired


def test_login_rate_limit_per_user_and_address(app: FastAPI, tokens: dict[Role, str]) -> None:
    browser = TestClient(app)
    attempt = {"username": "viewer", "password": "wrong password"}
    assert [browser.post(f"{V1}/auth/login", json=attempt).status_code for _ in range(3)] == [401] * 3
    limited = browser.post(f"{V1}/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    login(app, "operator")  # another user from the same address is not held up
    audit = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"})
    entries = audit.get(f"{V1}/audit-log", params={"action": "login", "username": "viewer"}).json()
    assert [e["result"] for e in entries["audit_log"]] == ["denied", "denied", "denied", "denied"]


def test_tokens_are_shown_once_and_can_be_revoked(app: FastAPI, tokens: dict[Role, str]) -> None:
    viewer = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"})
    made = viewer.post(f"{V1}/auth/tokens", json={"name": "ci"}).json()
    mine = TestClient(app, headers={"Authorization": f"Bearer {made['token']}"})
    assert mine.get(f"{V1}/auth/me").json()["username"] == "viewer"
    listed = viewer.get(f"{V1}/auth/tokens").json()["tokens"]
    assert all("token" not in t for t in listed) and {t["name"] for t in listed} == {"tests", "ci"}
    assert viewer.delete(f"{V1}/auth/tokens/{made['id']}").status_code == 204
    assert mine.get(f"{V1}/auth/me").status_code == 401


def test_a_lookup_between_a_revocation_and_its_commit_is_not_remembered(
    app: FastAPI, tokens: dict[Role, str]
) -> None:
    """The revoking request forgets credentials before its transaction commits; a lookup in that gap
    reads the still-present token and remembers it. The cache is cleared again after the commit, so
    the revoked token is refused at once (it was accepted for auth_cache_seconds before)."""
    _remembering(app, 300.0)
    viewer = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"})
    made = viewer.post(f"{V1}/auth/tokens", json={"name": "ci"}).json()
    mine = TestClient(app, headers={"Authorization": f"Bearer {made['token']}"})
    assert mine.get(f"{V1}/auth/me").status_code == 200  # remembered now
    cache = app.state.api.auth
    remembered = dict(cache._entries)
    real_clear = cache.clear
    calls = 0

    def clear_then_race() -> None:
        nonlocal calls
        calls += 1
        real_clear()
        if calls == 1:  # a lookup that ran between the handler's clear and the commit
            for key, (_, value, _) in remembered.items():
                cache.put(key, value, generation=cache.generation)

    cache.clear = clear_then_race  # type: ignore[method-assign]
    assert viewer.delete(f"{V1}/auth/tokens/{made['id']}").status_code == 204
    assert calls >= 2
    assert mine.get(f"{V1}/auth/me").status_code == 401


def test_pools_crud_is_for_admins(client: Client) -> None:
    admin, operator = client(Role.ADMIN), client(Role.OPERATOR)
    assert operator.post(f"{V1}/pools", json={"name": "db", "slots": 2}).status_code == 403
    assert admin.post(f"{V1}/pools", json={"name": "db", "slots": 2}).status_code == 201
    assert admin.post(f"{V1}/pools", json={"name": "db", "slots": 2}).status_code == 409
    assert admin.patch(f"{V1}/pools/db", json={"slots": 5}).json()["slots"] == 5
    assert operator.get(f"{V1}/pools/db").json() == {"name": "db", "slots": 5, "description": None}
    assert admin.delete(f"{V1}/pools/default_pool").status_code == 400
    assert admin.delete(f"{V1}/pools/db").status_code == 204
    assert admin.get(f"{V1}/pools/db").status_code == 404
    assert admin.post(f"{V1}/pools", json={"name": "x", "slots": -1}).status_code == 422


def test_config_is_redacted_and_for_admins(engine: Engine, tokens: dict[Role, str]) -> None:
    from windvane.api.app import create_app

    rows = (("smtp", "password", "***", "env"), ("core", "parallelism", "32", "default"))
    app = create_app(engine, ApiConfig(config_rows=rows))
    viewer = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.VIEWER]}"})
    admin = TestClient(app, headers={"Authorization": f"Bearer {tokens[Role.ADMIN]}"})
    assert viewer.get(f"{V1}/config").status_code == 403
    assert admin.get(f"{V1}/config").json()["options"][0] == {
        "section": "smtp", "key": "password", "value": "***", "source": "env"
    }  # fmt: skip


def test_admins_manage_users(client: Client) -> None:
    admin = client(Role.ADMIN)
    made = admin.post(f"{V1}/users", json={"username": "eve", "password": "long enough", "role": "operator"})
    assert made.status_code == 201
    assert "eve" in [u["username"] for u in admin.get(f"{V1}/users").json()["users"]]
    assert admin.post(f"{V1}/users", json={"username": "eve", "password": "long enough"}).status_code == 409
    assert admin.delete(f"{V1}/users/admin").status_code == 409
    assert client(Role.OPERATOR).get(f"{V1}/users").status_code == 403
    assert admin.delete(f"{V1}/users/eve").status_code == 204
