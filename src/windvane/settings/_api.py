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
