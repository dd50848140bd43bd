"""SQLExecuteQueryOperator: run SQL on a Connection's database (Airflow's common-sql operator).

The statements run through :class:`~windvane.core.authoring.hooks.sql.SqlHook` (SQLAlchemy over
the driver's DB-API cursor); the handler's result (by default every row of the last statement)
becomes the ``return_value`` XCom, rows as lists (see
:mod:`windvane.core.authoring.hooks.sql_rows`). The hook and SQLAlchemy are imported only when
the task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.hooks.sql_rows import fetch_all_handler, jsonable_rows
from windvane.core.authoring.per_instance import keep
from windvane.errors import DagDefinitionError, TaskCommandError

log = logging.getLogger("windvane.task")


class SQLExecuteQueryOperator(BaseOperator):
    """Run ``sql`` on the database of connection ``conn_id``.

    :param conn_id: the connection (templated).
    :param sql: one SQL string, a list of them, or a path ending in ``.sql`` whose content is
        rendered with Jinja and run (templated).
    :param parameters: values for the driver's placeholders, a mapping or a sequence (templated).
    :param autocommit: commit each statement on its own instead of all of them at the end.
    :param split_statements: split a string at the ``;`` that end statements and run them one by one.
    :param handler: called with the DB-API cursor after each statement; its result is the XCom
        (default :func:`fetch_all_handler`: every row, or None). None: nothing is fetched.
    :param return_last: with one string, return only the last statement's result (else a list,
        one result per statement).
    :param show_return_value_in_logs: log the result (off by default: it may be big).
    :param database: a database that replaces the connection's ``schema`` (templated).
    """

    template_fields: ClassVar[Sequence[str]] = ("sql", "parameters", "conn_id", "database")
    template_ext: ClassVar[Sequence[str]] = (".sql",)
    ui_color: ClassVar[str] = "#cdaaed"
    # Defaults on the class: a task stores what it changes (per_instance.keep).
    parameters: Any = None
    autocommit: bool = False
    split_statements: bool = False
    return_last: bool = True
    show_return_value_in_logs: bool = False
    database: str | None = None

    def __init__(
        self,
        *,
        conn_id: str,
        sql: str | Sequence[str],
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        autocommit: bool = False,
        split_statements: bool = False,
        handler: Callable[[Any], Any] | None = fetch_all_handler,
        return_last: bool = True,
        show_return_value_in_logs: bool = False,
        database: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        self.conn_id = _non_empty(conn_id, "conn_id", owner)
        self.sql: Any = _sql(sql, owner)
        keep(self, "parameters", _parameters(parameters, owner))
        keep(self, "autocommit", v.flag(autocommit, "autocommit", owner))
        keep(self, "split_statements", v.flag(split_statements, "split_statements", owner))
        if handler is not None and not callable(handler):
            raise DagDefinitionError(f"{owner}: handler must be callable or None, got {handler!r}")
        self.handler = handler
        keep(self, "return_last", v.flag(return_last, "return_last", owner))
        keep(
            self,
            "show_return_value_in_logs",
            v.flag(show_return_value_in_logs, "show_return_value_in_logs", owner),
        )
        keep(self, "database", v.opt_string(database, "database", owner))

    def get_db_hook(self) -> Any:
        """The hook the task runs its SQL with."""
        from windvane.core.authoring.hooks.sql import SqlHook

        return SqlHook(self.conn_id, database=self.database)

    def execute(self, context: dict[str, Any]) -> Any:
        hook = self.get_db_hook()
        handler = self.handler if self.do_xcom_push else None
        try:
            output = hook.run(
                self.sql,
                autocommit=self.autocommit,
                parameters=self.parameters,
                handler=handler,
                split_statements=self.split_statements,
                return_last=self.return_last,
            )
        except TaskCommandError as exc:
            raise TaskCommandError(f"task {self.task_id!r}: {exc}") from None
        if handler is None:
            return None
        result = jsonable_rows(output)
        if self.show_return_value_in_logs:
            log.info("Query result: %s", result)
        return result


def _non_empty(value: object, name: str, owner: str) -> str:
    text = v.string(value, name, owner)
    if not text.strip():
        raise DagDefinitionError(f"{owner}: {name} must not be empty")
    return text


def _sql(value: object, owner: str) -> str | list[str]:
    if isinstance(value, str):
        return _non_empty(value, "sql", owner)
    if isinstance(value, Sequence) and value and all(isinstance(s, str) and s.strip() for s in value):
        return list(value)
    raise DagDefinitionError(
        f"{owner}: sql must be a SQL string, a .sql file name or a non-empty list of SQL strings, "
        f"got {value!r}"
    )


def _parameters(value: object, owner: str) -> Mapping[str, Any] | list[Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return v.mapping(value, "parameters", owner)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    raise DagDefinitionError(f"{owner}: parameters must be a mapping or a sequence, got {value!r}")
