"""Turning setting values into display strings, with secrets masked."""

from __future__ import annotations

from urllib.parse import urlsplit

MASK = "***"
#: Key names holding secrets; webhook URLs count (Slack's and most bridges' embed their key).
SECRET_WORDS = ("password", "secret", "token", "webhook_url", "fernet_key")


def format_value(value: object) -> str:
    """Render a value the way it would be written in an env var.

    Booleans are ``true``/``false``, lists are comma-separated, paths are
    plain strings.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    return str(value)


def is_secret_key(key: str) -> bool:
    """Whether a key's name says it holds a secret (``*password*``, ``*secret*``, ``*token*``,
    ``*webhook_url*``, ``*fernet_key*``)."""
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def mask_url_password(value: str) -> str:
    """Replace the password of a URL with ``***``; other strings are returned unchanged.

    ``postgresql+psycopg://user:pw@host/db`` -> ``postgresql+psycopg://user:***@host/db``.
    """
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        has_password = parts.password is not None
    except ValueError:
        return value
    if not has_password:
        return value
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return value.replace(parts.netloc, f"{user}:{MASK}@{hostport}", 1)


def mask_secret(key: str, text: str) -> str:
    """Mask ``text`` (the display form of key ``key``) if it is or holds a secret."""
    if is_secret_key(key):
        return MASK if text else text
    return mask_url_password(text)
