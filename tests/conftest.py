"""Fixtures shared by every test package: the metadata database, from :mod:`windvane.testing.fixtures`.

``engine`` (a migrated, empty database on SQLite and on PostgreSQL), ``db_url``
(a blank one, for migrations), ``sqlite_engine``, ``db_backend`` and
``pg_database`` (the session's own PostgreSQL database ``wv_test_<random>`` on
the server of ``WINDVANE_TEST_PG_URL``, truncated between tests, dropped at the
end; without a reachable server its tests are skipped, or fail when ``CI=true``).
"""

from __future__ import annotations

from hypothesis import settings as _hypothesis_settings

pytest_plugins = ["windvane.testing.fixtures", "pytester"]


# Hypothesis's 200 ms per-example deadline measures the machine, not the code: on a loaded 2-core CI
# box a property that is true fails as "DeadlineExceeded"/"Flaky". Example counts stay bounded per test.
_hypothesis_settings.register_profile("windvane", deadline=None)
_hypothesis_settings.load_profile("windvane")
