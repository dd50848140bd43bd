"""What a running task sees: its context, templating, macros and the ``ti`` handle.

May import: :mod:`windvane.core.model` and ``windvane.errors``. Authoring code and
operators use it; it never imports authoring, the worker, the store or the scheduler
(operators reach it through the context they are handed).
"""
