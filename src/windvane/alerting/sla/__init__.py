"""SLA misses and run deadlines: detect them while tasks still run, record each once, alert.

Holds the pure decisions (:mod:`.decisions`: missed or not, the callback's
Airflow-shaped arguments), the ``sla_miss`` statements (:mod:`.store`), the
alerts a miss makes (:mod:`.alerts`), the ``sla_miss_callback`` call in a forked
child (:mod:`.callback`) and the :class:`~.monitor.SlaMonitor` service with its
entry point (:mod:`.service`). Due times are core's facts (``task_instance.sla_due_at``,
``dag_run.deadline_at``, computed at creation: :mod:`windvane.core.model.deadlines`).

May import what :mod:`windvane.alerting` may; :mod:`.service` also reads ``windvane.settings``.
"""
