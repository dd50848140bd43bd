"""The scheduler: drives DAG runs to completion through an executor.

Modules, from the top down (each imports only those below it):

* ``loop`` — :class:`~windvane.core.scheduler.loop.Scheduler`: the passes (read, decide, commit);
* ``runs`` — creating scheduled runs when they fall due;
* ``polling`` — re-reading what other processes changed, and loading runs into the book;
* ``commit`` — writing one pass, then handing workloads to the executor;
* ``coordination`` — several schedulers on one PostgreSQL: run ownership, dead schedulers, the
  queueing critical section (on with ``SchedulerConfig.coordinated``);
* ``leasing`` — several schedulers' slot leases of the global limits (``lease_grant``: the decision, pure);
* ``pool_usage`` — the pool snapshot observers may ask for;
* ``book`` — :class:`~windvane.core.scheduler.book.Book`: the in-memory state and its transitions (no I/O);
* ``announce`` — lifecycle events for the observer, built only for hooks someone listens to;
* ``pass_work``, ``model``, ``queueing``, ``observer``, ``config`` — the values the above share;
* ``db`` — the scheduler's SQL.

May import: the model floor, ``store``, ``executors.base`` and ``timetables``; never
``windvane.metrics``, alerting or the CLI (they plug in as observers).
"""
