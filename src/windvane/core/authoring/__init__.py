"""The authoring floor: what DAG files are written with.

``DAG``, ``BaseOperator``, ``TaskGroup``, the ``with DAG()`` stack, ``>>``
dependencies, ``XComArg``, TaskFlow decorators, the operators, and turning a DAG
into its serialized form. The public names are re-exported by ``windvane``.

May import: :mod:`windvane.core.model`, :mod:`windvane.core.task_api`,
:mod:`windvane.core.timetables` and ``windvane.errors``. The modules here import
one another (a DAG holds operators, an operator knows its DAG): the one import
circle the house keeps, inside this folder.
"""
