"""The ``windvane`` command line: ``windvane --help`` lists the commands.

:func:`windvane.cli.main.main` is the entry point. Settings are read once
there (``--home`` overrides ``WINDVANE_HOME``) and handed to the command
modules; :mod:`windvane.cli.wiring` builds engines, executors, the DAG
processor and the scheduler from them.
"""

from __future__ import annotations
