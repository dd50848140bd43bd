"""DAG-folder integrity checks, shared by the pytest plugin and ``windvane dags check``.

What it holds, one concept per module:

* :mod:`.facts` — :class:`FileFacts` / :class:`DagFacts`: what a parse child reports about one file
  (plain JSON, no user objects);
* :mod:`.guards` — the top-level access guards a parse child installs (sockets, database
  connections, secret environment reads) and :class:`TopLevelAccessError`;
* :mod:`.child` — the body of a parse child: import one file with deferred definition checks
  and describe it;
* :mod:`.parse` — fork one child per file (in parallel, each with a deadline) and collect facts;
* :mod:`.folder` — :class:`DagFolder`, the parsed folder (the ``dagbag``);
* :mod:`.checks` — the checks themselves: plain functions over facts and a :class:`Policy`;
* :mod:`.baseline` — the baseline file of known-broken checks;
* :mod:`.run` — every check over a folder, with the baseline applied (the CLI's engine);
* :mod:`.formats` — text, JSON and JUnit renderings of a run.

No pytest here: the CLI uses it too. May import :mod:`windvane.core` (user code only runs in
forked children).
"""

from __future__ import annotations

from windvane.testing.integrity.baseline import Baseline, BaselineError
from windvane.testing.integrity.checks import DAG_CHECKS, FILE_CHECKS, FOLDER_CHECKS, Policy, Verdict
from windvane.testing.integrity.facts import Access, DagFacts, FileFacts
from windvane.testing.integrity.folder import DagFolder, ParseSettings
from windvane.testing.integrity.guards import TopLevelAccessError
from windvane.testing.integrity.run import CheckResult, run_checks

__all__ = [
    "DAG_CHECKS",
    "FILE_CHECKS",
    "FOLDER_CHECKS",
    "Access",
    "Baseline",
    "BaselineError",
    "CheckResult",
    "DagFacts",
    "DagFolder",
    "FileFacts",
    "ParseSettings",
    "Policy",
    "TopLevelAccessError",
    "Verdict",
    "run_checks",
]
