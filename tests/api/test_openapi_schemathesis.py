"""The API against its own OpenAPI document (schemathesis): no 500s, every response matches the
schema. Bounded examples per operation, on SQLite, so the whole run stays well under a minute."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from sqlalchemy import Engine

from tests.api.conftest import NOW
from windvane.api.app import create_app
from windvane.api.config import ApiConfig
from windvane.api.users import Role, create_token, create_user
from windvane.core.store.engine import begin_write


@pytest.fixture
def token(sqlite_engine: Engine) -> str:
    with begin_write(sqlite_engine) as conn:
        create_user(conn, "root", "a long password", Role.ADMIN, now=NOW)
        return create_token(conn, "root", "schemathesis", now=NOW)[1]


def test_api_matches_its_openapi_document(sqlite_engine: Engine, token: str, tmp_path: Path) -> None:
    """Each operation with a few generated requests (schemathesis's pytest plug-in is driven by
    hand: its fixture integration does not follow this pytest's node API)."""
    app = create_app(sqlite_engine, ApiConfig(secret_key="k", log_folder=tmp_path))
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers)

        check()


EXAMPLES = 6
