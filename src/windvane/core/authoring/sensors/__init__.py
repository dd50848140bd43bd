"""Sensors: operators that wait for a condition (Airflow's ``airflow.sensors``).

:class:`~windvane.core.authoring.sensors.base.BaseSensorOperator` pokes in a loop (``mode="poke"``)
or gives its slot back between pokes (``mode="reschedule"``); the rest subclass it. The public
names are re-exported by ``windvane.sensors``.

Part of the authoring floor: may import :mod:`windvane.core.model`, :mod:`windvane.core.task_api`,
:mod:`windvane.core.timetables` and ``windvane.errors``. Sensors that read the metadata database do
it through the port of :mod:`windvane.core.task_api.metadata`, never the store.
"""
