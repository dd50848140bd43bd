"""Fixtures shared by every test package: the metadata database, from :mod:`windvane.testing.fixtures`.

``engine`` (a migrated, empty database on SQLite and on PostgreSQL), ``db_url``
(a blank one, for migrations), ``sqlite_engine``, ``db_backend`` and
``pg_database`` (the session's own PostgreSQL database ``wv_test_<random>`` on
the server of ``WINDVANE_TEST_PG_URL``, truncated between tests, dropped at the
end; without a reachable server its tests are skipped, or fail when ``CI=true``).
"""

from __future__ import annotations

pytest_plugins = ["windvane.testing.fixtures", "pytester"]
