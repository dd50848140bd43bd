"""Where a running task finds the ``[smtp]`` settings: the installed SMTP parameters.

Core never reads settings. The process that runs tasks (the CLI for ``dags test`` / ``tasks
test``, a LocalExecutor worker from its config) builds :class:`SmtpParams` from ``[smtp]`` at
its edge and installs them with :func:`install_smtp_params`, like the secrets resolver.
``EmailOperator`` without a ``conn_id`` sends through them; without any installed it fails
saying email is not configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SmtpParams:
    """Where and how to send mail; the password stays out of ``repr``.

    ``starttls`` upgrades a plain connection; ``ssl`` speaks TLS from the first byte;
    ``timeout`` (seconds) bounds each SMTP step.
    """

    host: str
    port: int = 25
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False
    timeout: float = 30.0
    mail_from: str = "windvane@localhost"
    validate_certs: bool = True

    @property
    def address(self) -> str:
        """``host:port``, for messages."""
        return f"{self.host}:{self.port}"


_installed: SmtpParams | None = None


def install_smtp_params(params: SmtpParams | None) -> None:
    """Make ``params`` the SMTP server this process's tasks send through (None uninstalls)."""
    global _installed
    _installed = params


def installed_smtp_params() -> SmtpParams | None:
    """The parameters installed in this process, if any."""
    return _installed
