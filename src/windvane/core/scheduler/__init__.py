"""The scheduler: one event-driven loop that creates DAG runs, decides which task
instances are ready, queues them to an executor and records how they end.

May import the model, store and timetables floors, and the executor contract
(:mod:`windvane.core.executors.base`); never user code (authoring, task_api,
worker) nor the DAG processor.
"""
