"""The supervised fork: run a function in a forked child, frame its result over a pipe,
enforce a deadline, classify how the child ended. One primitive for the DAG processor (many
parse children at once) and the worker (one child per try).

* :mod:`.child`: the child's side (setup, stdio, the framed result, exit codes);
* :mod:`.handle`: :class:`~.handle.ForkedChild`, one child seen from its supervisor;
* :mod:`.ending`: :class:`~.ending.ChildEnd`, the one classification of how a child ended;
* :mod:`.watch`: :class:`~.watch.ChildWatcher`, one child or many in one poll;
* :mod:`.supervise`: one child with heartbeats (:func:`~.supervise.run_forked`), and
  :func:`~.supervise.terminate_current` for a stopping worker.

May import: the standard library only (lean workers import it: no SQLAlchemy). This
``__init__`` imports nothing on purpose.
"""
