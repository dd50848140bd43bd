"""The secrets backends and their chain, on both metadata databases; plug-in backends."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from windvane.core.model.connection import Connection
from windvane.core.model.secrets_config import SecretsConfig
from windvane.core.store import secrets_sql
from windvane.core.store.engine import begin_write
from windvane.core.store.fernet import FernetCodec
from windvane.core.store.sql_bridge import dbapi_tx
from windvane.core.task_api import secrets
from windvane.core.task_api.masking import masker
from windvane.core.task_api.secrets_backends.chain import ChainResolver
from windvane.core.task_api.secrets_backends.env import EnvironmentBackend
from windvane.core.worker.secrets_setup import build_resolver, install_secrets
from windvane.errors import ConfigError, NotFoundError, StoreError
from windvane.plugins import SECRETS_BACKENDS_GROUP

from ..plugins.helpers import FakeEntryPoint, FakeLoader

KEY = Fernet.generate_key().decode()
ENV = {
    "WINDVANE_CONN_MY_DB": "postgresql://env_user:env-pw-123@env-host:5432/envdb",
    "WINDVANE_CONN_API": '{"conn_type": "http", "host": "api.local", "password": "json-pw-456"}',
    "WINDVANE_VAR_BUCKET": "s3://env-bucket",
    "HOME": "/not/read",
}


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _store(engine: Engine) -> None:
    codec = FernetCodec([KEY])
    with begin_write(engine) as db:
        tx = dbapi_tx(db)
        conn = Connection("my_db", "postgres", "db-host", 5432, "db_user", "db-pw-789", "dbdb", '{"a": "b"}')
        secrets_sql.put_connection(tx, codec, conn)
        secrets_sql.set_variable(tx, codec, "bucket", "s3://db-bucket", description=None, sensitive=False)
        secrets_sql.set_variable(tx, codec, "quiet", "quiet-value-1", description="d", sensitive=True)


def test_the_environment_backend_reads_uri_and_json_forms() -> None:
    env = EnvironmentBackend(ENV)
    conn = env.get_connection("my_db")
    assert conn is not None and (conn.login, conn.password, conn.host, conn.schema) == (
        "env_user",
        "env-pw-123",
        "env-host",
        "envdb",
    )
    api = env.get_connection("api")
    assert api is not None and api.password == "json-pw-456" and api.conn_type == "http"
    assert env.get_variable("bucket") == "s3://env-bucket"
    assert env.get_variable("home") is None and env.get_connection("nope") is None
    assert env.connection_ids() == ["api", "my_db"] and env.variable_keys() == ["bucket"]


@pytest.mark.parametrize("order", [("env", "metastore"), ("metastore", "env")])
def test_the_chain_reads_in_the_configured_order(engine: Engine, order: tuple[str, ...]) -> None:
    _store(engine)
    chain = build_resolver(
        SecretsConfig(db_url=_url(engine), backends=order, fernet_keys=(KEY,), environ=ENV)
    )
    conn = chain.get_connection("my_db")
    bucket = chain.get_variable("bucket")
    if order[0] == "env":
        assert conn is not None and conn.password == "env-pw-123" and bucket == "s3://env-bucket"
    else:
        assert conn is not None and conn.password == "db-pw-789" and bucket == "s3://db-bucket"
        assert conn.extra_dejson == {"a": "b"}
    assert chain.get_variable("quiet") == "quiet-value-1"  # only in the DB
    assert chain.get_connection("api") is not None  # only in the environment
    assert chain.get_variable("missing") is None


def test_stored_secrets_are_fernet_tokens(engine: Engine) -> None:
    _store(engine)
    with engine.connect() as db:
        password, extra, flag = db.execute(text("SELECT password, extra, is_encrypted FROM connection")).one()
        vals = db.execute(text("SELECT val FROM variable")).scalars().all()
    assert flag and password.startswith("gAAAA") and extra.startswith("gAAAA")
    assert all(v.startswith("gAAAA") for v in vals)


def test_installed_reads_register_secrets_with_the_masker(engine: Engine) -> None:
    _store(engine)
    install_secrets(SecretsConfig(db_url=_url(engine), backends=("metastore",), fernet_keys=(KEY,)))
    secrets.get_connection("my_db")
    secrets.get_variable("bucket")
    secrets.get_variable("quiet")  # marked sensitive when set
    assert masker().redact("db-pw-789 s3://db-bucket quiet-value-1") == "*** s3://db-bucket ***"
    secrets.set_variable("new_api_key", "new-key-value", description=None)
    assert secrets.get_variable("new_api_key") == "new-key-value"
    assert masker().redact("new-key-value") == "***"  # a sensitive-named key
    assert secrets.delete_variable("new_api_key") and secrets.get_variable("new_api_key") is None
    with pytest.raises(NotFoundError, match="connection 'nope' does not exist"):
        secrets.get_connection("nope")


class _Broken:
    def get_connection(self, conn_id: str) -> Connection | None:
        raise OSError("vault is down")

    def get_variable(self, key: str) -> str | None:
        raise OSError("vault is down")


def test_a_failing_backend_is_skipped_and_reported_and_named_when_nothing_else_has_it() -> None:
    errors: list[str] = []
    chain = ChainResolver(
        [("vault", _Broken()), ("env", EnvironmentBackend(ENV))],
        on_error=lambda name, exc: errors.append(f"{name}: {exc}"),
    )
    assert chain.get_variable("bucket") == "s3://env-bucket"
    with pytest.raises(StoreError, match="cannot read variable 'missing': vault: vault is down"):
        chain.get_variable("missing")
    assert errors == ["vault: vault is down", "vault: vault is down"]
    with pytest.raises(StoreError, match="none of the secrets backends \\(vault, env\\) stores variables"):
        chain.set_variable("k", "v")


def test_a_plug_in_backend_is_built_from_its_entry_point() -> None:
    seen: list[SecretsConfig] = []

    class Static:
        def get_connection(self, conn_id: str) -> Connection | None:
            return Connection(conn_id, "http", host="plugin-host")

        def get_variable(self, key: str) -> str | None:
            return f"from-plugin-{key}"

    def factory(config: SecretsConfig) -> Static:
        seen.append(config)
        return Static()

    loader = FakeLoader({SECRETS_BACKENDS_GROUP: [FakeEntryPoint("static", "x:create", factory)]})
    config = SecretsConfig(db_url="sqlite://", backends=("static", "env"), environ=ENV)
    chain = build_resolver(config, plugins=loader)
    assert chain.get_variable("bucket") == "from-plugin-bucket"
    conn = chain.get_connection("anything")
    assert conn is not None and conn.host == "plugin-host"
    assert seen == [config]
    with pytest.raises(
        ConfigError, match="unknown secrets backend 'nope' \\(known: env, metastore, static\\)"
    ):
        build_resolver(SecretsConfig(db_url="sqlite://", backends=("nope",)), plugins=loader)
