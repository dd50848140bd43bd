"""The ``[database]`` section: the metadata database and each process's connection pool (apart
from :mod:`._sections` for size)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from windvane.settings._kinds import Between, Check, Within, _num, resolve_sqlite_url, setting

_TIMEOUT = Within(0, 7 * 86_400)  # as in _sections: how long to wait for something, at most a week


@dataclass(frozen=True)
class OffOr:
    """``value == off`` (the feature is off), or what ``check`` accepts."""

    off: float
    check: Check

    @property
    def high(self) -> float | None:
        """The ceiling of ``check`` (every numeric setting has one)."""
        high: float | None = getattr(self.check, "high", None)
        return high

    def accepts(self, value: Any) -> bool:
        return bool(value == self.off or self.check.accepts(value))

    def expected(self, phrase: str) -> str:
        return f"{_num(self.off)} (off) or {self.check.expected(phrase)}"


@dataclass(frozen=True)
class DatabaseSettings:
    """The metadata database."""

    sql_alchemy_conn: str = setting(
        "sqlite:///windvane.db",
        "SQLAlchemy URL of the metadata database; a relative SQLite file is under home.",
        resolve=resolve_sqlite_url,
    )
    pool_size: int = setting(
        5,
        "Connections each process keeps open in its SQLAlchemy pool (0 means no limit). Airflow's "
        "`sql_alchemy_pool_size`. See operations.md for what N schedulers, M API processes and the "
        "workers use against the server's `max_connections`.",
        check=Between(0, 10_000),
    )
    max_overflow: int = setting(
        10,
        "Connections a process may open beyond `pool_size` when all are in use (closed again when "
        "returned); -1 means no limit. Airflow's `sql_alchemy_max_overflow`.",
        check=Between(-1, 10_000),
    )
    pool_timeout: float = setting(
        30.0,
        "Seconds a process waits for a free connection when `pool_size + max_overflow` are all in "
        "use before the operation fails. Airflow's `sql_alchemy_pool_timeout`.",
        check=_TIMEOUT,
    )
    pool_recycle: float = setting(
        1800.0,
        "Seconds after which a pooled connection is closed and reopened at its next checkout (a "
        "server or firewall that drops old connections); -1 means never. Airflow's "
        "`sql_alchemy_pool_recycle`.",
        check=OffOr(-1, _TIMEOUT),
    )
    echo: bool = setting(False, "Log every SQL statement (debugging only).")
    max_outage_seconds: float = setting(
        300.0,
        "How long the scheduler and the DAG processor ride out a database outage (dropped "
        "connections, locks, a full disk), retrying with backoff, before they exit saying so; also how "
        "long scheduler, dag-processor and standalone wait for an unreachable database at start, "
        "and how long a worker retries claiming a try.",
        check=_TIMEOUT,
    )
