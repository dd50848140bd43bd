"""The model floor: plain values and pure decisions every other floor shares.

Holds task-instance and run states, trigger rules and the incremental readiness
tracker, the clock, retry delays, JSON values (XCom/params), the serialized DAG,
and the workload / outcome / event types that cross process boundaries.

May import: the standard library, third-party value libraries (pendulum) and
``windvane.errors``; in core only :mod:`windvane.core.timetables` (pure schedules,
which import nothing else in core). Never I/O: no database, no processes.
"""
