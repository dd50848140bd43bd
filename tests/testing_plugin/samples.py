"""The sample DAG folders (tests/dag_samples) and what the checks must say about them."""

from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "dag_samples"
BROKEN = SAMPLES / "broken"
HEALTHY = SAMPLES / "healthy"

#: The one failing check of each broken file (ids relative to the folder); every other check passes or
#: is skipped because the file did not import. The duplicate dag_id of shared_id_a.py / shared_id_b.py
#: is one whole-folder check naming both files.
EXPECTED_FAILURES = {
    "bad_cron.py::import": "hour field '25' is out of range 0-23",
    "cycle.py::cycle::cycles": "extract -> transform -> load -> extract",
    "duplicate_task_ids.py::duplicate_task_ids::task_ids": "task id 'load' has already been added",
    "missing_argument.py::import": "missing 1 required keyword-only argument: 'bash_command'",
    "network_at_import.py::import": (
        "network access at import time: socket.getaddrinfo('config.example.invalid', 80) "
        "(network_at_import.py:9)"
    ),
    "never_runs.py::never_runs::schedule": "never produces a run",
    "no_dag.py::defines_dags": "the file defines no DAG",
    "secret_at_import.py::top_level_access": "os.environ['WAREHOUSE_PASSWORD'] (secret_at_import.py:9)",
    "syntax_error.py::import": "SyntaxError: expected ':'",
    "::unique_dag_ids": "DAG 'shared' is defined in shared_id_a.py and shared_id_b.py",
}
