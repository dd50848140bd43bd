"""Windvane's one error hierarchy.

Every error Windvane raises on purpose derives from :class:`WindvaneError`, and
most also derive from the builtin that fits (``ValueError``, ``TypeError``,
``LookupError``) so that generic handlers keep working::

    WindvaneError
    ├── DagDefinitionError (ValueError)        a DAG file describes something impossible
    │   ├── DuplicateTaskIdError               two tasks share an id (both places named)
    │   ├── CycleError                         a dependency cycle (the path a -> b -> a)
    │   ├── UnknownTriggerRuleError            trigger_rule is not one of TriggerRule
    │   ├── InvalidArgumentError (TypeError)   an unknown DAG / task argument
    │   └── InvalidBranchError                 a branch chose a task that is not directly downstream
    ├── ScheduleError (ValueError)             a schedule that cannot be understood
    │   └── CronExpressionError                a bad cron string (names the field)
    ├── SerializationError (TypeError)         an XCom / DAG value that is not JSON-able
    ├── TemplateRenderError                    a Jinja template failed (names task + field)
    ├── TaskError                              raised *inside* a task to steer its outcome
    │   ├── TaskSkipped                        mark the running task skipped
    │   ├── TaskFailedNoRetry                  fail without using remaining retries
    │   │   └── SensorTimeout                  a sensor waited longer than its ``timeout``
    │   ├── RescheduleRequested                a reschedule-mode sensor gives its slot back until a time
    │   ├── ExternalTaskError                  another DAG's run or task a task waits for failed or is unknown
    │   ├── TaskTimeoutError                   execution_timeout elapsed
    │   └── TaskCommandError                   a task's command failed (names task + exit code)
    ├── TaskReturnError (TypeError)            a task returned a value it cannot hand on
    ├── XComNotFoundError (LookupError)        an XCom argument that was never pushed
    ├── InvalidRunIdError (ValueError)         a run id that cannot name a log folder (names it)
    ├── ConfigError (ValueError)               a bad config key or value (names the key)
    │   └── ContainmentError                   [core] process_containment cannot be had here (says why)
    ├── StoreError                             the metadata DB refused or is out of date
    │   └── NotFoundError (LookupError)        a DAG / run / task / pool that does not exist
    ├── DagImportError                         a DAG file could not be parsed (names the file)
    ├── ExecutorError                          an executor could not run a workload
    └── PluginError                            a plug-in's entry point is broken (names it)
"""

from __future__ import annotations

from datetime import datetime


class WindvaneError(Exception):
    """Root of every error Windvane raises on purpose."""


class DagDefinitionError(WindvaneError, ValueError):
    """A DAG file describes something that cannot be scheduled."""


class DuplicateTaskIdError(DagDefinitionError):
    """Two tasks in one DAG share a task id."""


class CycleError(DagDefinitionError):
    """The dependencies of a DAG contain a cycle.

    ``path`` holds the task ids along the cycle, first id repeated at the end.
    """

    def __init__(self, dag_id: str, path: list[str]) -> None:
        self.dag_id = dag_id
        self.path = path
        super().__init__(f"DAG {dag_id!r} has a dependency cycle: {' -> '.join(path)}")


class UnknownTriggerRuleError(DagDefinitionError):
    """``trigger_rule`` is not one of :class:`windvane.TriggerRule`."""


class InvalidArgumentError(DagDefinitionError, TypeError):
    """An argument that a DAG or an operator does not accept."""


class InvalidBranchError(DagDefinitionError):
    """A branch operator chose a task id that is not one of its direct downstream tasks."""


class ScheduleError(WindvaneError, ValueError):
    """A ``schedule`` value that Windvane cannot turn into a timetable."""


class CronExpressionError(ScheduleError):
    """A cron expression that does not parse; the message names the field at fault."""


class SerializationError(WindvaneError, TypeError):
    """A value that cannot be stored as JSON (XCom values, DAG params)."""


class TemplateRenderError(WindvaneError):
    """A templated field failed to render; the message names task and field."""


class TaskError(WindvaneError):
    """Base of the exceptions a task may raise to steer its own outcome."""


class TaskSkipped(TaskError):
    """Raise inside ``execute`` to end the task as *skipped* (Airflow's AirflowSkipException)."""


class TaskFailedNoRetry(TaskError):
    """Raise inside ``execute`` to fail at once, ignoring remaining retries."""


class SensorTimeout(TaskFailedNoRetry):
    """A sensor's condition was not met within its ``timeout`` (Airflow's AirflowSensorTimeout):
    the task fails without retrying (or is skipped with ``soft_fail``)."""


class RescheduleRequested(TaskError):
    """Raised by a sensor in ``mode="reschedule"`` (Airflow's AirflowRescheduleException): the try
    ends as ``up_for_reschedule`` and the scheduler runs it again at ``reschedule_date`` (aware UTC)."""

    def __init__(self, reschedule_date: datetime) -> None:
        self.reschedule_date = reschedule_date
        super().__init__(f"rescheduled to {reschedule_date.isoformat()}")


class ExternalTaskError(TaskError):
    """Another DAG's run or task that a task waits for (ExternalTaskSensor, TriggerDagRunOperator)
    failed or does not exist; the message names the DAG and the tasks."""


class TaskTimeoutError(TaskError):
    """The task ran longer than its ``execution_timeout``."""


class TaskCommandError(TaskError):
    """A command run by a task (e.g. BashOperator) could not start or exited non-zero.

    ``exit_code`` is the process exit code, or None when it never ran.
    """

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        self.exit_code = exit_code
        super().__init__(message)


class TaskReturnError(WindvaneError, TypeError):
    """A task returned a value its operator cannot use (e.g. a non-dict with multiple_outputs)."""


class XComNotFoundError(WindvaneError, LookupError):
    """An XCom a task argument refers to was never pushed."""


class InvalidRunIdError(WindvaneError, ValueError):
    """A run id outside the documented characters and length, or a log path it would move out of
    the logs folder."""


class ConfigError(WindvaneError, ValueError):
    """A configuration key or value that is unknown or of the wrong type."""


class ContainmentError(ConfigError):
    """``[core] process_containment`` asks for what this machine cannot do (a ``cgroup`` mode with
    no writable cgroup, ``subreaper`` off Linux); the message names the key and why."""


class StoreError(WindvaneError):
    """The metadata database refused an operation or its schema is not current."""


class DatabaseOutageError(StoreError):
    """The metadata database stayed unreachable longer than ``[database] max_outage_seconds``."""


class SchedulerConflictError(StoreError):
    """A second scheduler on one SQLite database (the message names the database and the running
    scheduler's pid and host): SQLite supports one scheduler, PostgreSQL several."""


class NotFoundError(StoreError, LookupError):
    """A DAG, run, task instance or pool that does not exist."""


class VariableNotFoundError(NotFoundError, KeyError):
    """A Variable no secrets backend has (a ``KeyError`` too, as Airflow's ``Variable.get`` raises)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else ""


class DagImportError(WindvaneError):
    """A DAG file failed to import; ``path`` names the file."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class ExecutorError(WindvaneError):
    """An executor could not accept or run a workload."""


class PluginError(WindvaneError):
    """A plug-in's entry point failed to load or declares something unusable; the message names it."""


class LogFetchError(NotFoundError):
    """A try's log is not on this machine and the worker that ran it could not serve it; the message
    names the try, the host and why."""
