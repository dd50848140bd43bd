"""The ``[api]`` section: the REST API and web UI server (apart from :mod:`._sections` for size)."""

from __future__ import annotations

from dataclasses import dataclass

from windvane.settings._kinds import Between, Within, setting

_PORT = Between(1, 65535)


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API server."""

    host: str = setting(
        "127.0.0.1", "Address the API server listens on (loopback only unless set; e.g. 0.0.0.0)."
    )
    port: int = setting(8080, "Port of the API server.", check=_PORT)
    secret_key: str = setting(
        "",
        "Key that signs browser session cookies (masked); empty: a random key per start, so "
        "sessions end when the server restarts.",
    )
    session_lifetime_seconds: float = setting(
        12 * 3600.0, "How long a browser login lasts.", check=Within(60, 30 * 86_400)
    )
    login_rate_limit: int = setting(
        5,
        "Most failed logins per user name and client address within login_rate_window_seconds "
        "(then HTTP 429 until the oldest failure leaves the window).",
        check=Between(1, 1000),
    )
    login_rate_window_seconds: float = setting(
        60.0, "The window of login_rate_limit.", check=Within(1, 86_400)
    )
    secure_cookies: bool = setting(
        False, "Mark session cookies Secure (only sent over HTTPS): set it behind a TLS proxy."
    )
    workers: int = setting(
        1,
        "API server processes of windvane api-server, sharing its port (standalone serves the API on "
        "one thread); failed logins are counted in the metadata database, so login_rate_limit "
        "holds across them.",
        check=Between(1, 64),
    )
    auth_cache_seconds: float = setting(
        5.0,
        "How long an API process remembers who an API token or browser session belongs to (no "
        "database read per request; past half of it, one request re-checks the credential in the "
        "background); a revoked token, deleted user or reset password takes effect in other "
        "processes within this time. 0: read the database on every request.",
        check=Within(0, 300),
    )
    dag_list_cache_seconds: float = setting(
        10.0,
        "How long an API process keeps a GET /dags answer while the dag_change counter says no DAG "
        "changed (bounds how stale its last_parsed_at may be). 0: read every time.",
        check=Within(0, 3600),
    )
    list_cache_seconds: float = setting(
        1.0,
        "How long an API process keeps a list answer (GET /dags, /dagRuns, a DAG's runs, a run's "
        "task instances, /pools, /ui/recentRuns) per path, query and role: polls within it cost no "
        "database read. Past it, the kept answer is still sent while one request reads it again, "
        "for at most this time more: changes through this process show at once, others within "
        "twice this time. 0: read every time.",
        check=Within(0, 60),
    )
