"""The supervised fork: run a function in a forked child, frame its result over a pipe,
enforce a deadline, classify how the child ended. One primitive for the DAG processor (many
parse children at once) and the worker (one child per try).

* :mod:`.child`: the child's side (setup, stdio, the framed result, exit codes);
* :mod:`.handle`: :class:`~.handle.ForkedChild`, one child seen from its supervisor;
* :mod:`.lean_fork`: a fork without CPython's after-fork hooks, for a supervisor with one thread;
* :mod:`.ending`: :class:`~.ending.ChildEnd`, the one classification of how a child ended;
* :mod:`.watch`: :class:`~.watch.ChildWatcher`, one child or many in one poll;
* :mod:`.supervise`: one child with heartbeats (:func:`~.supervise.run_forked`), and
  :func:`~.supervise.terminate_current` for a stopping worker;
* what a finished child leaves is ended: :mod:`.sweep` (its session), :mod:`.subreaper` (its
  descendants and the orphans a supervisor adopted), :mod:`.cells` (a cgroup per child:
  :mod:`.cgroup_v2`, :mod:`.cgroup_v1`, :mod:`.no_cgroup`), chosen once per process by
  :mod:`.containment` (``[core] process_containment``).

May import: the standard library and ``windvane.errors`` only (lean workers import it: no
SQLAlchemy). This ``__init__`` imports nothing on purpose.
"""
