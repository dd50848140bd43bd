"""The compose stack, checked without a Docker engine: the Compose spec, and that its parts fit together.

``compose/compose.yaml`` is validated against the Compose specification's
JSON schema (check-jsonschema's built-in ``vendor.compose-spec``); then the
wiring is checked: every file it mounts exists, ports are published on
127.0.0.1 only, Windvane's environment is valid configuration, Prometheus
scrapes the ports Windvane serves and loads the rules where they are mounted,
Grafana loads the dashboards where they are mounted, and promtool / amtool
accept the Prometheus and Alertmanager configurations.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.metrics.prom_tools import require
from windvane.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
SERVICES = {
    "postgres",
    "redis",
    "celery-worker",
    "migrate",
    "scheduler",
    "dag-processor",
    "statsd-exporter",
    "prometheus",
    "alertmanager",
    "grafana",
    "mailpit",
}
WINDVANE_SERVICES = ("migrate", "scheduler", "dag-processor", "celery-worker")


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    return data


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def interpolated(value: str) -> str:
    """Compose's ``${NAME:-default}`` with the environment unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (relative to compose/) of the service's bind mounts."""
    out = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            out[target] = source
    return out


def test_compose_file_follows_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE / "compose.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_stack_has_every_part_and_publishes_on_loopback_only() -> None:
    found = services()
    assert set(found) == SERVICES
    published = [port for service in found.values() for port in service.get("ports", [])]
    assert published and all(port.startswith("127.0.0.1:") for port in published), published
    assert found["migrate"]["command"] == ["db", "migrate"] and found["migrate"]["restart"] == "no"
    for name in ("scheduler", "dag-processor"):
        assert found[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert found["scheduler"]["command"] == ["scheduler", "--no-processor"]
    assert found["dag-processor"]["command"] == ["dag-processor"]
    assert found["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}


def test_every_mounted_file_exists_and_the_image_builds_from_what_exists() -> None:
    for name, service in services().items():
        for source in mounts(service).values():
            assert (COMPOSE / source).exists(), f"{name} mounts {source}, which does not exist"
    build = services()["scheduler"]["build"]
    context = (COMPOSE / build["context"]).resolve()
    dockerfile = (context / build["dockerfile"]).read_text(encoding="utf-8")
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (context / source).exists(), line
    ignored = (context / ".dockerignore").read_text(encoding="utf-8")
    assert "!src/" in ignored and "!pyproject.toml" in ignored


@pytest.mark.parametrize("name", WINDVANE_SERVICES)
def test_windvanes_environment_is_valid_configuration(name: str, tmp_path: Path) -> None:
    environ = {key: interpolated(str(value)) for key, value in services()[name]["environment"].items()}
    settings = load_settings(home=tmp_path, environ=environ)
    assert settings.database.sql_alchemy_conn.startswith("postgresql+psycopg://")
    assert settings.metrics.prometheus_on and settings.metrics.prometheus_host == "0.0.0.0"
    assert settings.smtp.host == "mailpit" and settings.alerting.enabled
    assert services()[name]["volumes"] == [
        "../examples/dags:/opt/windvane/dags:ro",
        "task-logs:/opt/windvane/home/logs",
    ]
    assert str(settings.core.dags_folder) == "/opt/windvane/dags"
    # The scheduler and the Celery workers write and read task logs on the one shared volume.
    assert str(settings.logging.base_log_folder) == "/opt/windvane/home/logs"
    assert settings.celery.broker_url == "redis://redis:6379/0"


def test_the_celery_profile_adds_a_persistent_broker_and_a_worker() -> None:
    found = services()
    assert found["redis"]["profiles"] == ["celery"] and "--appendonly" in found["redis"]["command"]
    assert found["celery-worker"]["command"] == ["celery", "worker"]
    assert found["celery-worker"]["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "${WINDVANE_EXECUTOR:-local}" in found["scheduler"]["environment"]["WINDVANE__CORE__EXECUTOR"]


def test_prometheus_scrapes_what_windvane_serves_and_loads_the_mounted_rules() -> None:
    found = services()
    config = yaml.safe_load((COMPOSE / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    targets = {
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    env = found["scheduler"]["environment"]
    assert f"scheduler:{env['WINDVANE__METRICS__PROMETHEUS_PORT']}" in targets
    assert f"dag-processor:{env['WINDVANE__METRICS__PROMETHEUS_PROCESSOR_PORT']}" in targets
    listen = next(a for a in found["statsd-exporter"]["command"] if "web.listen" in a)
    exporter_port = listen.rsplit(":", 1)[1]
    assert f"statsd-exporter:{exporter_port}" in targets
    assert env["WINDVANE__METRICS__STATSD_HOST"] == "statsd-exporter"
    mounted = mounts(found["prometheus"])
    assert mounted["/etc/prometheus/windvane-rules.yml"] == "../dashboards/prometheus/windvane-rules.yml"
    assert config["rule_files"] == ["/etc/prometheus/windvane-rules.yml"]
    mapping = mounts(found["statsd-exporter"])["/etc/statsd-exporter/statsd-mapping.yml"]
    assert mapping == "./statsd-mapping.yml"


def test_grafana_provisions_the_datasource_and_loads_the_dashboards_where_they_are_mounted() -> None:
    grafana = services()["grafana"]
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert grafana["environment"]["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    provisioning = COMPOSE / "grafana/provisioning"
    provider = yaml.safe_load((provisioning / "dashboards/windvane.yml").read_text(encoding="utf-8"))
    path = provider["providers"][0]["options"]["path"]
    assert mounts(grafana)[path] == "../dashboards"
    [source] = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text(encoding="utf-8"))[
        "datasources"
    ]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090") and source["isDefault"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "dashboards" / Path(home).relative_to(path)).exists()


def test_promtool_and_amtool_accept_the_configurations() -> None:
    done = subprocess.run(
        [require("promtool"), "check", "config", "--syntax-only", str(COMPOSE / "prometheus/prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    done = subprocess.run(
        [require("amtool"), "check-config", str(COMPOSE / "alertmanager/alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_documented_statsd_switches_are_the_ones_compose_reads() -> None:
    text = (COMPOSE / "compose.yaml").read_text(encoding="utf-8")
    docs = (ROOT / "docs/observability.md").read_text(encoding="utf-8")
    assert "${WINDVANE_STATSD:-false}" in text and "${WINDVANE_NATIVE_METRICS:-true}" in text
    assert "WINDVANE_STATSD=true WINDVANE_NATIVE_METRICS=false docker compose --profile statsd up" in docs
    assert services()["statsd-exporter"]["profiles"] == ["statsd"]
