"""The REST API (``/api/v1``): a FastAPI application over the metadata database, with its own
tables (users, API tokens, the audit log; an Alembic branch in ``migrations/``).

An edge package like :mod:`windvane.cli`: it may import ``windvane.core`` (the store's reads and
actions: the handlers are thin), ``windvane.errors``, ``windvane.settings`` and ``windvane.metrics``;
``windvane.core`` never imports it. :func:`windvane.api.app.create_app` builds the application from
an :class:`~windvane.api.config.ApiConfig` and an engine; ``windvane api-server`` serves it with uvicorn.
"""
