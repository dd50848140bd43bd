"""Alembic migrations of the metadata database; run them with :mod:`windvane.core.store.migrate`."""
