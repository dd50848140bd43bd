"""Tests for windvane.settings: layering, parsing, errors, masking and the generated docs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from windvane.errors import ConfigError
from windvane.settings import (
    REGENERATE_COMMAND,
    Settings,
    get_value,
    load_settings,
    mask_secret,
    render_config_docs,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def write_config(home: Path, text: str) -> Path:
    path = home / "windvane.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(home: Path, **environ: str) -> Settings:
    return load_settings(home=home, environ=environ)


# --- defaults -------------------------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.home == tmp_path
    assert s.core.parallelism == 32
    assert s.core.executor == "local"
    assert s.core.default_timezone == "UTC"
    assert s.core.dags_are_paused_at_creation is False
    assert s.scheduler.idle_sleep_seconds == 1.0
    assert s.scheduler.catchup_by_default is True
    assert s.dag_processor.parsing_processes == 2
    assert s.executor.worker_heartbeat_seconds == 5.0
    assert s.logging.level == "INFO"
    assert s.metrics.statsd_allow_list == ()
    assert s.metrics.prometheus_port == 9464


def test_derived_defaults_live_under_home(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.core.dags_folder == tmp_path / "dags"
    assert s.logging.base_log_folder == tmp_path / "logs"
    assert s.database.sql_alchemy_conn == f"sqlite:///{tmp_path}/windvane.db"


def test_home_from_environ_and_default(tmp_path: Path) -> None:
    s = load_settings(environ={"WINDVANE_HOME": str(tmp_path)})
    assert s.home == tmp_path
    assert load_settings(environ={}).home == (Path.home() / "windvane").absolute()


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.core.parallelism = 1  # type: ignore[misc]


# --- file and env layering ------------------------------------------------------------------


def test_file_values(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        """
[core]
parallelism = 8
executor = "Sequential"
default_timezone = "Europe/Amsterdam"

[scheduler]
idle_sleep_seconds = 2
catchup_by_default = false

[metrics]
statsd_allow_list = ["scheduler", "executor"]

[logging]
level = "debug"
""",
    )
    s = load(tmp_path)
    assert s.core.parallelism == 8
    assert s.core.executor == "sequential"
    assert s.core.default_timezone == "Europe/Amsterdam"
    assert s.scheduler.idle_sleep_seconds == 2.0
    assert isinstance(s.scheduler.idle_sleep_seconds, float)
    assert s.scheduler.catchup_by_default is False
    assert s.metrics.statsd_allow_list == ("scheduler", "executor")
    assert s.logging.level == "DEBUG"


def test_env_overrides_file(tmp_path: Path) -> None:
    write_config(tmp_path, "[core]\nparallelism = 8\nmax_active_runs_per_dag = 3\n")
    s = load(tmp_path, WINDVANE__CORE__PARALLELISM="64")
    assert s.core.parallelism == 64
    assert s.core.max_active_runs_per_dag == 3


def test_overrides_win_over_env(tmp_path: Path) -> None:
    s = load_settings(
        home=tmp_path,
        environ={"WINDVANE__CORE__PARALLELISM": "64"},
        overrides={"core": {"parallelism": 4, "dags_are_paused_at_creation": None}},
    )
    assert s.core.parallelism == 4
    assert s.source_of("core", "parallelism") == "override"
    assert s.source_of("core", "dags_are_paused_at_creation") == "default"


def test_unrelated_env_vars_are_ignored(tmp_path: Path) -> None:
    s = load(tmp_path, PATH="/bin", WINDVANE_HOME="/elsewhere", AIRFLOW__CORE__PARALLELISM="2")
    assert s.core.parallelism == 32
    assert s.home == tmp_path  # an explicit home wins over WINDVANE_HOME


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), ("Yes", True), ("no", False)],
)
def test_env_bool(tmp_path: Path, text: str, expected: bool) -> None:
    assert (
        load(tmp_path, WINDVANE__CORE__DAGS_ARE_PAUSED_AT_CREATION=text).core.dags_are_paused_at_creation
        is expected
    )


def test_env_parsing_of_each_kind(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        WINDVANE__SCHEDULER__HEARTBEAT_SECONDS="2.5",
        WINDVANE__DAG_PROCESSOR__FILE_PARSE_TIMEOUT_SECONDS="0.5",
        WINDVANE__METRICS__STATSD_BLOCK_LIST=" a.b , c ,",
        WINDVANE__METRICS__STATSD_ALLOW_LIST="",
        WINDVANE__METRICS__PROMETHEUS_HOST="0.0.0.0",
        WINDVANE__CORE__DAGS_FOLDER="/srv/dags",
    )
    assert s.scheduler.heartbeat_seconds == 2.5
    assert s.dag_processor.file_parse_timeout_seconds == 0.5
    assert s.metrics.statsd_block_list == ("a.b", "c")
    assert s.metrics.statsd_allow_list == ()
    assert s.metrics.prometheus_host == "0.0.0.0"
    assert s.core.dags_folder == Path("/srv/dags")


def test_relative_paths_resolve_against_home(tmp_path: Path) -> None:
    write_config(
        tmp_path, '[core]\ndags_folder = "my/dags"\n[database]\nsql_alchemy_conn = "sqlite:///meta.db"\n'
    )
    s = load(tmp_path, WINDVANE__LOGGING__BASE_LOG_FOLDER="var/log")
    assert s.core.dags_folder == tmp_path / "my" / "dags"
    assert s.logging.base_log_folder == tmp_path / "var" / "log"
    assert s.database.sql_alchemy_conn == f"sqlite:///{tmp_path}/meta.db"


def test_absolute_and_non_sqlite_urls_are_kept(tmp_path: Path) -> None:
    for url in ("sqlite:////abs/w.db", "sqlite://", "postgresql+psycopg://u:p@h/db"):
        s = load(tmp_path, WINDVANE__DATABASE__SQL_ALCHEMY_CONN=url)
        assert s.database.sql_alchemy_conn == url


# --- errors ---------------------------------------------------------------------------------


def test_unknown_key_in_file_suggests(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[scheduler]\nparalelism = 3\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value) == (
        f"unknown config key 'scheduler.paralelism' (in {path}); did you mean 'core.parallelism'?"
    )


def test_unknown_key_in_env_suggests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WINDVANE__SCHEDULER__PARALELISM="3")
    assert str(info.value) == (
        "unknown config key 'scheduler.paralelism' (from env WINDVANE__SCHEDULER__PARALELISM); "
        "did you mean 'core.parallelism'?"
    )


def test_unknown_section_in_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[schedular]\nheartbeat_seconds = 1\n")
    with pytest.raises(ConfigError, match=r"unknown config section 'schedular'") as info:
        load(tmp_path)
    assert str(path) in str(info.value)
    assert "did you mean 'scheduler'?" in str(info.value)


def test_unknown_section_in_env_suggests_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'scheduler.heartbeat_seconds'\?"):
        load(tmp_path, WINDVANE__SCHEDULAR__HEARTBEAT_SECONDS="1")


def test_unknown_key_without_close_match_has_no_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WINDVANE__CLI__ZZZZZZZZ="1")
    assert str(info.value) == "unknown config key 'cli.zzzzzzzz' (from env WINDVANE__CLI__ZZZZZZZZ)"


def test_top_level_key_in_file(tmp_path: Path) -> None:
    write_config(tmp_path, "parallelism = 3\n")
    with pytest.raises(
        ConfigError, match=r"unknown config key 'parallelism'.*did you mean 'core.parallelism'"
    ):
        load(tmp_path)


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    write_config(tmp_path, "core = 3\n")
    with pytest.raises(ConfigError, match=r"config section 'core' .* must be a table, got 3"):
        load(tmp_path)


def test_malformed_env_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"WINDVANE__CORE does not name a config key"):
        load(tmp_path, WINDVANE__CORE="1")


def test_unknown_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'core.paralelism' \(from overrides\)"):
        load_settings(home=tmp_path, environ={}, overrides={"core": {"paralelism": 1}})


def test_bad_int_from_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WINDVANE__CORE__PARALLELISM="lots")
    assert str(info.value) == (
        "config key 'core.parallelism' (from env WINDVANE__CORE__PARALLELISM) "
        "must be an integer between 1 and 1000000, got 'lots'"
    )


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        (
            "[core]\nparallelism = 0",
            "'core.parallelism' (in {path}) must be an integer between 1 and 1000000, got 0",
        ),
        ("[core]\nparallelism = 2.5", "must be an integer between 1 and 1000000, got 2.5"),
        ("[core]\nparallelism = true", "must be an integer between 1 and 1000000, got True"),
        ("[scheduler]\nidle_sleep_seconds = 0", "must be a number > 0 and at most 86400, got 0"),
        (
            "[metrics]\nprometheus_port = 70000",
            "'metrics.prometheus_port' (in {path}) must be an integer between 1 and 65535, got 70000",
        ),
        (
            "[core]\nexecutor = 'k8s'",
            "must be one of 'local', 'sequential', 'celery', or a plug-in's executor name, got 'k8s'",
        ),
        (
            "[metrics]\nprometheus_host = 8080",
            "'metrics.prometheus_host' (in {path}) must be a string, got 8080",
        ),
        ("[metrics]\nstatsd_allow_list = [1, 2]", "must be a list of regular expressions"),
    ],
)
def test_bad_values_in_file(tmp_path: Path, toml: str, fragment: str) -> None:
    path = write_config(tmp_path, toml + "\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert fragment.format(path=path) in str(info.value)


def test_bad_bool_from_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WINDVANE__DATABASE__ECHO="maybe")
    assert str(info.value) == (
        "config key 'database.echo' (from env WINDVANE__DATABASE__ECHO) "
        "must be a boolean (true/false, 1/0, yes/no), got 'maybe'"
    )


@pytest.mark.parametrize("text", ["soon", "nan", "inf", "-1"])
def test_bad_duration_from_env(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match=r"'scheduler.heartbeat_seconds' .* must be a number > 0"):
        load(tmp_path, WINDVANE__SCHEDULER__HEARTBEAT_SECONDS=text)


def test_bad_timezone_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WINDVANE__CORE__DEFAULT_TIMEZONE="Mars/Olympus_Mons")
    message = str(info.value)
    assert message.startswith(
        "config key 'core.default_timezone' (from env WINDVANE__CORE__DEFAULT_TIMEZONE)"
    )
    assert "time zone" in message
    assert message.endswith("got 'Mars/Olympus_Mons'")


def test_empty_path_from_env(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'core.dags_folder' .* must be a path, got ''"):
        load(tmp_path, WINDVANE__CORE__DAGS_FOLDER="")


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write_config(tmp_path, "[core]\nparallelism = 4\nexecutor = \n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert str(info.value).startswith(f"invalid TOML in {path}, line 3: ")


def test_unreadable_config_names_file(tmp_path: Path) -> None:
    (tmp_path / "windvane.toml").mkdir()
    with pytest.raises(ConfigError, match=r"cannot read config file .*windvane\.toml"):
        load(tmp_path)


def test_non_utf8_config_names_file(tmp_path: Path) -> None:
    (tmp_path / "windvane.toml").write_bytes(b"[core]\nexecutor = '\xff'\n")
    with pytest.raises(ConfigError, match=r"windvane\.toml is not valid UTF-8"):
        load(tmp_path)


def test_config_error_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        load(tmp_path, WINDVANE__METRICS__PROMETHEUS_PORT="http")


# --- rows, lookup, masking ------------------------------------------------------------------


def test_as_rows_sources(tmp_path: Path) -> None:
    write_config(tmp_path, "[core]\nparallelism = 8\ndags_are_paused_at_creation = true\n")
    s = load(
        tmp_path, WINDVANE__CORE__DAGS_ARE_PAUSED_AT_CREATION="no", WINDVANE__METRICS__STATSD_ALLOW_LIST="a,b"
    )
    rows = {(section, key): (value, source) for section, key, value, source in s.as_rows()}
    assert rows["core", "parallelism"] == ("8", "file")
    assert rows["core", "dags_are_paused_at_creation"] == ("false", "env")
    assert rows["core", "executor"] == ("local", "default")
    assert rows["metrics", "statsd_allow_list"] == ("a,b", "env")
    assert rows["core", "dags_folder"] == (str(tmp_path / "dags"), "default")
    assert len(rows) == sum(len(dataclasses.fields(section)) for section in _sections(s))
    assert [row[:2] for row in s.as_rows()][:2] == [("core", "dags_folder"), ("core", "default_timezone")]


def _sections(s: Settings) -> list[DataclassInstance]:
    return [
        s.core,
        s.database,
        s.scheduler,
        s.dag_processor,
        s.executor,
        s.celery,
        s.logging,
        s.metrics,
        s.api,
        s.cli,
        s.alerting,
        s.smtp,
        s.secrets,
        s.slack,
        s.webhook,
    ]


def test_as_rows_masks_url_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://windvane:s3cr%40t@db.internal:5432/windvane"
    s = load(tmp_path, WINDVANE__DATABASE__SQL_ALCHEMY_CONN=url)
    masked = {key: value for _, key, value, _ in s.as_rows()}
    assert masked["sql_alchemy_conn"] == "postgresql+psycopg://windvane:***@db.internal:5432/windvane"
    plain = {key: value for _, key, value, _ in s.as_rows(mask_secrets=False)}
    assert plain["sql_alchemy_conn"] == url
    assert get_value(s, "database.sql_alchemy_conn") == url


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("api_token", "abc123", "***"),
        ("db_password", "hunter2", "***"),
        ("client_secret", "x", "***"),
        ("auth_token", "", ""),
        ("url", "https://user:pw@example.com/x", "https://user:***@example.com/x"),
        ("url", "https://user@example.com/x", "https://user@example.com/x"),
        ("url", "redis://:pw@cache:6379/0", "redis://:***@cache:6379/0"),
        ("host", "localhost", "localhost"),
    ],
)
def test_mask_secret(key: str, text: str, expected: str) -> None:
    assert mask_secret(key, text) == expected


def test_get_value(tmp_path: Path) -> None:
    s = load(tmp_path, WINDVANE__CORE__PARALLELISM="7")
    assert get_value(s, "core.parallelism") == 7
    assert get_value(s, "metrics.statsd_allow_list") == ()


@pytest.mark.parametrize(
    ("dotted", "message"),
    [
        ("core.paralelism", "unknown config key 'core.paralelism'; did you mean 'core.parallelism'?"),
        ("parallelism", "unknown config key 'parallelism'; did you mean 'core.parallelism'?"),
        ("nope.nothing_like_it", "unknown config key 'nope.nothing_like_it'"),
    ],
)
def test_get_value_unknown_key(tmp_path: Path, dotted: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        get_value(load(tmp_path), dotted)
    assert str(info.value) == message


# --- generated docs -------------------------------------------------------------------------


def test_docs_list_every_key(tmp_path: Path) -> None:
    docs = render_config_docs()
    for section, key, _, _ in load(tmp_path).as_rows():
        assert f"`WINDVANE__{section.upper()}__{key.upper()}`" in docs
    assert "`$WINDVANE_HOME/dags`" in docs
    assert "`sqlite:///$WINDVANE_HOME/windvane.db`" in docs


def test_docs_are_current() -> None:
    current = DOCS.read_text(encoding="utf-8") if DOCS.exists() else ""
    assert current == render_config_docs(), (
        f"docs/configuration.md is stale; regenerate it with: {REGENERATE_COMMAND}"
    )


def test_channel_secrets_are_masked_in_config_list(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        '[smtp]\nhost = "mail.example"\npassword = "hunter2"\n'
        '[slack]\nwebhook_url = "https://hooks.example/T0/B0/abc"\n'
        '[webhook]\nwebhook_url = "https://bridge.example/k3y"\nsecret = "s3cr3t"\n',
    )
    rows = {(section, key): value for section, key, value, _ in load(tmp_path).as_rows()}
    assert rows["smtp", "host"] == "mail.example"
    for key in (
        ("smtp", "password"),
        ("slack", "webhook_url"),
        ("webhook", "webhook_url"),
        ("webhook", "secret"),
    ):
        assert rows[key] == "***", key
    text = repr(rows)
    assert not any(s in text for s in ("hunter2", "abc", "k3y", "s3cr3t"))


def test_the_api_section_is_read_and_its_port_checked(tmp_path: Path) -> None:
    write_config(tmp_path, "[api]\nport = 8081\n")
    assert load(tmp_path).api.port == 8081
    write_config(tmp_path, "[api]\nport = 70000\n")
    with pytest.raises(ConfigError, match=r"api\.port"):
        load(tmp_path)


def test_allow_and_block_lists_must_be_regular_expressions(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, WINDVANE__METRICS__STATSD_ALLOW_LIST="^ti,(")
    assert "metrics.statsd_allow_list" in str(info.value) and "a list of regular expressions" in str(
        info.value
    )
    assert load(tmp_path, WINDVANE__METRICS__STATSD_BLOCK_LIST=r"^ti\.,\S+").metrics.statsd_block_list == (
        r"^ti\.",
        r"\S+",
    )


@pytest.mark.parametrize(
    "name",
    ["UTC", "utc", "Utc", "Europe/Amsterdam", "America/Argentina/Buenos_Aires", "EST5EDT", "Etc/GMT+5",
     "Mars/Olympus", "", "europe/amsterdam", "../etc/passwd", "/etc/localtime", "Europe/", " UTC"],
)  # fmt: skip
def test_time_zone_check_agrees_with_pendulum(name: str) -> None:
    """The setting is checked with zoneinfo (no pendulum import at start-up): the same verdict."""
    import pendulum

    from windvane.settings._kinds import IsTimezone

    try:
        pendulum.timezone(name)
    except Exception:
        accepted = False
    else:
        accepted = True
    assert IsTimezone().accepts(name) is accepted
