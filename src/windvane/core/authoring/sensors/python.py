"""PythonSensor and ``@task.sensor``: wait until a Python callable returns something truthy (or a
done :class:`~windvane.core.authoring.sensors.base.PokeReturnValue`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from windvane.core.authoring import validation as v
from windvane.core.authoring.operators.decorated import DecoratedOperator
from windvane.core.authoring.operators.python import call_arguments, call_python
from windvane.core.authoring.per_instance import PerInstance, keep
from windvane.core.authoring.sensors.base import BaseSensorOperator, PokeReturnValue
from windvane.core.authoring.xcom_arg import set_xcom_arg_dependencies
from windvane.errors import DagDefinitionError


class PythonSensor(BaseSensorOperator):
    """Poke by calling ``python_callable`` (Airflow's ``PythonSensor``).

    The callable gets ``op_args``, ``op_kwargs`` and the context entries its signature names, as
    with :class:`~windvane.core.authoring.operators.python.PythonOperator`; it returns a bool or a
    :class:`PokeReturnValue` whose ``xcom_value`` is pushed once done.
    """

    template_fields: ClassVar[Sequence[str]] = ("templates_dict", "op_args", "op_kwargs")
    # Defaults on the class; an empty list or dict is made per task when first read.
    op_args: Any = PerInstance(list)
    op_kwargs: Any = PerInstance(dict)
    templates_dict: Any = None

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Sequence[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = v.owner_name(self.task_id, self.dag.dag_id if self.dag is not None else None)
        if not callable(python_callable):
            raise DagDefinitionError(f"{owner}: python_callable must be callable, got {python_callable!r}")
        self.python_callable = python_callable
        args, kwargs_, templates = call_arguments(owner, op_args, op_kwargs, templates_dict)
        if args != []:  # an empty list or dict is made when first read (PerInstance)
            self.op_args = args
        if kwargs_ != {}:
            self.op_kwargs = kwargs_
        keep(self, "templates_dict", templates)
        set_xcom_arg_dependencies(self, args, kwargs_, templates)

    def poke(self, context: dict[str, Any]) -> PokeReturnValue:
        result = call_python(self.python_callable, self.op_args, self.op_kwargs, self.templates_dict, context)
        return result if isinstance(result, PokeReturnValue) else PokeReturnValue(bool(result))


class SensorDecoratedOperator(DecoratedOperator, PythonSensor):
    """``@task.sensor``: the function is the poke; sensor arguments (``mode``, ``poke_interval``...)
    go to the decorator."""

    custom_operator_name: ClassVar[str] = "@task.sensor"
