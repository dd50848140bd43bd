"""Windvane's core: parsing, storing, scheduling and running DAGs, with no edge concerns.

Organised in floors (see docs/architecture.md), each a package whose docstring
says what it holds and may import: ``model`` and ``timetables`` at the bottom,
then ``task_api``, ``authoring`` | ``store`` | ``forking``, ``worker``,
``executors``, and ``scheduler`` | ``processor`` at the top; ``interfaces``
names what plug-ins may use. Core never imports the CLI, settings, metrics,
alerting or ``windvane.testing``: they stand on it. This ``__init__`` imports
nothing on purpose (lean workers import parts of core).
"""
