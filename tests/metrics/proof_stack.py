"""The parts of the observability proof: a real Prometheus, a real Alertmanager, an SMTP sink, and PromQL.

Each server binds a free loopback port and keeps its data in a temporary
directory; :func:`stop` ends exactly the process (group) the test started.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller

from windvane.testing import wait_for

#: Grafana's macros and our template variables, as the proof evaluates them.
RATE_WINDOW = "15s"
RANGE = "1m"
_VARIABLE = re.compile(r"\$(instance|dag_id|task_id|pool)\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def instant(expr: str) -> str:
    """A panel's expression with Grafana's macros and the variables (All = ``.*``) filled in."""
    expr = expr.replace("$__rate_interval", RATE_WINDOW).replace("$__range", RANGE)
    return _VARIABLE.sub(".*", expr)


def http_json(url: str, timeout: float = 5.0) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never via a proxy
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read())


def is_ready(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process, then SIGKILL its process group (its children) if it lingers."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def shortened_rules(source: Path, target: Path) -> int:
    """Copy the rule file with every ``for:`` set to 0s (the proof has seconds, not minutes); rule count."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    count = 0
    for group in data["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            count += 1
            if "for" in rule:
                rule["for"] = "0s"
    target.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return count


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, binary: str, home: Path, targets: list[str], rules: Path, alertmanager: str) -> Prometheus:
        port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(rules)],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
            "scrape_configs": [{"job_name": "windvane", "static_configs": [{"targets": targets}]}],
        }
        (home / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        argv = [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        prometheus = cls(f"http://127.0.0.1:{port}", start(argv, home / "prometheus.log"))
        wait_for(lambda: is_ready(prometheus.url + "/-/ready"), timeout=30, what="Prometheus to be ready")
        return prometheus

    def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        """The samples of an instant query (a scalar counts as one sample)."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        body = http_json(url)
        if body["status"] != "success":
            raise AssertionError(f"{expr}: {body}")
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [({}, float(result[1]))]
        return [(sample["metric"], float(sample["value"][1])) for sample in result]

    def has_data(self, expr: str) -> bool:
        samples = self.query(expr)
        return bool(samples) and all(math.isfinite(value) for _, value in samples)


@dataclass
class Alertmanager:
    url: str
    address: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, binary: str, home: Path) -> Alertmanager:
        port = free_port()
        config = {
            "route": {"receiver": "proof", "group_wait": "0s", "group_interval": "1s"},
            "receivers": [{"name": "proof"}],
        }
        (home / "alertmanager.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
        argv = [
            binary,
            f"--config.file={home / 'alertmanager.yml'}",
            f"--storage.path={home / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: a single, local Alertmanager
        ]
        am = cls(f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", start(argv, home / "alertmanager.log"))
        wait_for(lambda: is_ready(am.url + "/-/ready"), timeout=30, what="Alertmanager to be ready")
        return am

    def firing(self) -> set[str]:
        """Names of the alerts Alertmanager holds as active."""
        alerts = http_json(self.url + "/api/v2/alerts?active=true")
        return {a["labels"]["alertname"] for a in alerts if a["status"]["state"] == "active"}


class _Accept:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


@dataclass
class SmtpSink:
    """An SMTP server on a free loopback port that accepts every message."""

    handler: _Accept = field(default_factory=_Accept)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
