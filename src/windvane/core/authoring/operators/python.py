"""Operators that run a Python callable: plain, branching and short-circuiting.

As in Airflow, the callable receives ``op_args`` positionally, ``op_kwargs`` by
name, and every context entry its signature names (all of them when it takes
``**kwargs``); ``templates_dict`` is in the context too, rendered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.baseoperator import BaseOperator
from windvane.core.authoring.operators.skipmixin import SkipMixin
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.authoring.xcom_arg import XComArg, resolve_xcom_args, set_xcom_arg_dependencies
from windvane.core.task_api.context import call_with_context
from windvane.errors import DagDefinitionError

log = logging.getLogger("windvane.task")


class PythonOperator(BaseOperator):
    """Run ``python_callable``; its return value becomes the ``return_value`` XCom.

    :param python_callable: the function to call.
    :param op_args: positional arguments (templated; XComArgs are resolved).
    :param op_kwargs: keyword arguments (templated; XComArgs are resolved).
    :param templates_dict: a dict whose values are rendered and handed to the
        callable as the context entry ``templates_dict``.
    :param templates_exts: file endings (e.g. ``[".sql"]``) whose files are
        read and rendered in place of the string; replaces ``template_ext``.
    :param show_return_value_in_logs: log the returned value (turn off for big values).
    """

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")
    ui_color: ClassVar[str] = "#ffefeb"
    # Defaults on the class; an empty list or dict is made per task when first read.
    op_args: Any = PerInstance(list)
    op_kwargs: Any = PerInstance(dict)
    templates_dict: Any = None
    show_return_value_in_logs: bool = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: Mapping[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {self.task_id!r}: python_callable must be callable, got {python_callable!r}"
            )
        self.python_callable = python_callable
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        args, kwargs_, templates = call_arguments(owner, op_args, op_kwargs, templates_dict)
        if args != []:  # an empty list or dict is made when first read (PerInstance)
            self.op_args = args
        if kwargs_ != {}:
            self.op_kwargs = kwargs_
        keep(self, "templates_dict", templates)
        if templates_exts:
            self.template_ext = v.strings(templates_exts, "templates_exts", owner)  # type: ignore[misc]
        keep(
            self,
            "show_return_value_in_logs",
            v.flag(show_return_value_in_logs, "show_return_value_in_logs", owner),
        )
        set_xcom_arg_dependencies(self, args, kwargs_, templates)

    def execute(self, context: dict[str, Any]) -> Any:
        return_value = self.execute_callable(context)
        if self.show_return_value_in_logs:
            log.info("Done. Returned value was: %s", return_value)
        else:
            log.info("Done. Returned value not shown")
        return return_value

    def execute_callable(self, context: dict[str, Any]) -> Any:
        """Call ``python_callable`` with its arguments and the context entries it names."""
        return call_python(self.python_callable, self.op_args, self.op_kwargs, self.templates_dict, context)


def call_arguments(owner: str, op_args: Any, op_kwargs: Any, templates_dict: Any) -> tuple[Any, Any, Any]:
    """``op_args`` (a list), ``op_kwargs`` and ``templates_dict`` (mappings) checked and copied, as
    the Python operators and sensors keep them; an XComArg may stand for the whole list or dict (it
    is resolved at run time). A wrong type is a DagDefinitionError naming ``owner``."""
    if not isinstance(op_args, XComArg) and not (
        op_args is None or (isinstance(op_args, Sequence) and not isinstance(op_args, str | bytes))
    ):
        raise DagDefinitionError(f"{owner}: op_args must be a list, got {op_args!r}")
    args = op_args if isinstance(op_args, XComArg) else list(op_args or [])
    kwargs = op_kwargs if isinstance(op_kwargs, XComArg) else v.mapping(op_kwargs, "op_kwargs", owner)
    templates = (
        templates_dict
        if templates_dict is None or isinstance(templates_dict, XComArg)
        else v.mapping(templates_dict, "templates_dict", owner)
    )
    return args, kwargs, templates


def call_python(
    python_callable: Callable[..., Any],
    op_args: Any,
    op_kwargs: Any,
    templates_dict: Any,
    context: dict[str, Any],
) -> Any:
    """Call ``python_callable`` with the arguments :func:`call_arguments` kept, their XComArgs
    resolved, and the context entries it names (``templates_dict`` among them)."""
    args = list(resolve_xcom_args(op_args, context) or [])
    kwargs = dict(resolve_xcom_args(op_kwargs, context) or {})
    templates = resolve_xcom_args(templates_dict, context)
    return call_with_context(python_callable, args, kwargs, {**context, "templates_dict": templates})


class BranchPythonOperator(SkipMixin, PythonOperator):
    """Run the callable, which returns the task id(s) to follow (or None for none).

    Every *direct* downstream task not chosen is skipped. A task-group id
    stands for the group's root tasks. The returned value is pushed as XCom.
    """

    ui_color: ClassVar[str] = "#f0e4ec"

    def execute(self, context: dict[str, Any]) -> Any:
        branches = super().execute(context)
        self.skip_all_except(context["ti"], branches)
        return branches


class ShortCircuitOperator(SkipMixin, PythonOperator):
    """Run the callable; if it returns something falsy, skip downstream tasks.

    :param ignore_downstream_trigger_rules: when True (default) every task
        downstream is skipped, whatever its trigger rule; when False only the
        direct downstream tasks are skipped and the rest follow their
        trigger rules.
    """

    ui_color: ClassVar[str] = "#f0e4ec"
    ignore_downstream_trigger_rules: bool = True

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        keep(self, "ignore_downstream_trigger_rules", ignore_downstream_trigger_rules)

    def execute(self, context: dict[str, Any]) -> Any:
        condition = super().execute(context)
        log.info("Condition result is %s", condition)
        if condition:
            log.info("Proceeding with downstream tasks...")
            return condition
        if not self.downstream_task_ids:
            log.info("No downstream tasks; nothing to do.")
            return condition
        self.skip_downstream(context["ti"], recursive=self.ignore_downstream_trigger_rules)
        return condition
