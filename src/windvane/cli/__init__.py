"""The ``windvane`` command line: ``windvane --help`` lists the commands.

:func:`windvane.cli.main.main` is the entry point. :mod:`windvane.cli.parser`
holds the command line's shape (every command, argument and help text) and
names each command's handler, which is imported only when the command runs.
Settings are read once in ``main`` (``--home`` overrides ``WINDVANE_HOME``) and
handed to the handler; :mod:`windvane.cli.wiring` builds engines, executors,
the DAG processor and the scheduler from them.
"""

from __future__ import annotations
