"""Sensors, with Airflow's names: ``from windvane.sensors import FileSensor`` (see docs/operators.md)."""

from __future__ import annotations

from windvane.core.authoring.sensors.base import BaseSensorOperator, PokeReturnValue
from windvane.core.authoring.sensors.external_task import ExternalTaskSensor
from windvane.core.authoring.sensors.filesystem import FileSensor
from windvane.core.authoring.sensors.python import PythonSensor
from windvane.core.authoring.sensors.time_sensors import DateTimeSensor, TimeDeltaSensor
from windvane.errors import SensorTimeout

__all__ = [
    "BaseSensorOperator",
    "DateTimeSensor",
    "ExternalTaskSensor",
    "FileSensor",
    "PokeReturnValue",
    "PythonSensor",
    "SensorTimeout",
    "TimeDeltaSensor",
]
