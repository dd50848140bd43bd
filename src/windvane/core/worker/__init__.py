"""The worker floor: one try of one task, from claim to recorded outcome.

Loading DAG files in a worker, building a run's inputs once, the try's log file,
running a try in this process (:mod:`.execution`), the forked child of a try
(:mod:`.task_child`), the claim-run-record sequence (:mod:`.runner`), the warm-up
rehearsal, and the in-process DAG runner behind ``windvane dags test``.

May import: model, task_api, authoring, forking, and the raw (SQLAlchemy-free)
store modules. Lean LocalExecutor workers import this floor: keep its modules free
of SQLAlchemy at import time. This ``__init__`` imports nothing on purpose.
"""
