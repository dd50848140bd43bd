"""The store floor: the metadata database and every statement on it.

Tables and migrations (``tables``, ``migrate``, ``migrations/``), the SQLAlchemy
engine (``engine``), one home per table's writes (``dags``, ``dag_runs``,
``task_instances``, ``pools``, ``jobs``, ``xcoms``/``xcom_sql``, ``import_errors``),
the try lifecycle with its guards (``try_lifecycle``, ``try_claim``; the scheduler's
statements over many tries: ``try_queue``), the state-change journal
(``journal_sql`` writes, ``journal`` reads), user actions on runs
(``run_actions``), several schedulers' run ownership, dead schedulers and queueing lock
(``run_owners``), their slot leases (``lease_sql``), one scheduler per SQLite database
(``sqlite_lock``), the facts behind
"why isn't this task running?" (``why``),
SQLAlchemy-free access for lean workers (``raw``, ``raw_sql``; ``sql_bridge`` runs the
same statements under SQLAlchemy) and for the CLI's listings (``lists_sql``, returning the
values of ``rows`` that the SQLAlchemy reads return too).

May import: the model, task_api and timetables floors and ``windvane.errors``.
This ``__init__`` imports nothing on purpose.
"""
