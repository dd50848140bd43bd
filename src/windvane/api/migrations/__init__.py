"""The API's Alembic branch (label ``api``), declared in the entry-point group
``windvane.migrations``: the revisions are the modules of this folder (Alembic reads them as
scripts; nothing imports them)."""
