"""Broken: fetches its configuration over the network while the file is parsed."""

from __future__ import annotations

import urllib.request

from windvane import DAG, EmptyOperator

CONFIG = urllib.request.urlopen("http://config.example.invalid/etl.json", timeout=5).read()

with DAG("network_at_import", schedule=None) as dag:
    EmptyOperator(task_id="t")
