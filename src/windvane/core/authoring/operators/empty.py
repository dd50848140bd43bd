"""EmptyOperator: a task that does nothing (joins, placeholders)."""

from __future__ import annotations

from typing import Any, ClassVar

from windvane.core.authoring.baseoperator import BaseOperator


class EmptyOperator(BaseOperator):
    """Does nothing. Runners finish it as *success* without running it (``is_noop``), as Airflow does.

    Its trigger rule is still honoured: an EmptyOperator whose upstreams do not
    satisfy it is skipped or upstream_failed like any other task.
    """

    ui_color: ClassVar[str] = "#e8f7e4"
    is_noop: ClassVar[bool] = True

    def execute(self, context: dict[str, Any]) -> None:
        """Nothing to do; returns None (so no XCom is pushed)."""
