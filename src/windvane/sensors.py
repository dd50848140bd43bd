"""Sensors, with Airflow's names: ``from windvane.sensors import FileSensor`` (see docs/operators.md)."""

from __future__ import annotations

from windvane.core.authoring.sensors.base import BaseSensorOperator, PokeReturnValue
from windvane.errors import SensorTimeout

__all__ = ["BaseSensorOperator", "PokeReturnValue", "SensorTimeout"]
