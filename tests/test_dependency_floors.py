"""The behaviours that set our dependencies' lower bounds (pyproject.toml), one test each.

``make test-min`` runs this file, with the timetable tests, in a venv holding exactly the
lower bounds (``requirements/minimum.txt``): a bound that is too low fails here first.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from pathlib import Path

import pendulum
from sqlalchemy import make_url

from windvane.core.store import migrate
from windvane.core.timetables.cron import CronDataIntervalTimetable
from windvane.core.timetables.ops import iter_intervals


def test_croniter_steps_over_short_months() -> None:
    """croniter < 6.1 jumped from Feb 21 to Mar 11 for ``*/10`` days, losing the Feb 21 interval."""
    timetable = CronDataIntervalTimetable("0 0 */10 * *", "UTC")
    intervals = list(
        iter_intervals(timetable, start=pendulum.datetime(2025, 2, 11), end=pendulum.datetime(2025, 3, 11))
    )
    starts = [i.start.date().isoformat() for i in intervals]
    assert starts == ["2025-02-11", "2025-02-21", "2025-03-01", "2025-03-11"]
    assert all(a.end == b.start for a, b in itertools.pairwise(intervals))


def test_croniter_accepts_ranges_that_wrap_midnight() -> None:
    """croniter < 5 refused ``22-2`` (22:00 to 02:00), which Airflow users write."""
    timetable = CronDataIntervalTimetable("0 22-2 * * *", "UTC")
    intervals = list(
        iter_intervals(
            timetable, start=pendulum.datetime(2025, 3, 1, 22), end=pendulum.datetime(2025, 3, 2, 2)
        )
    )
    assert [i.start.hour for i in intervals] == [22, 23, 0, 1, 2]


def test_the_minimum_constraints_are_pyprojects_lower_bounds() -> None:
    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    runtime_extras = (r for name, rs in extras.items() if name != "dev" for r in rs)
    requirements = [*project["dependencies"], *runtime_extras]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?>=([0-9.]+)(?:,<[0-9.]+)?", requirement)
        assert match, f"{requirement!r} needs a lower bound (>=)"
        name, floor = match.groups()
        bounds[name.lower()] = floor
    pinned = {}
    for line in (root / "constraints" / "minimum.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pinned[name.strip().lower()] = version.strip()
    assert {name: _padded(v) for name, v in bounds.items()} == {
        name: _padded(v) for name, v in pinned.items()
    }


def _padded(version: str) -> tuple[int, ...]:
    parts = tuple(int(p) for p in version.split("."))
    return parts + (0,) * (3 - len(parts))


def test_pendulum_time_zones_are_hashable() -> None:
    """pendulum 3.1 and 3.2 made ``Timezone`` unhashable (dataclass defaults in windvane.testing need it)."""
    assert hash(pendulum.timezone("Europe/Paris")) == hash(pendulum.timezone("Europe/Paris"))


def test_sqlalchemy_decodes_sqlite_file_paths() -> None:
    """SQLAlchemy < 2.1 opened ``/tmp/a%20b/x.db`` literally, a file our raw connections would not open."""
    assert make_url("sqlite:////tmp/a%20b/x.db").database == "/tmp/a b/x.db"


def test_alembic_splits_the_version_folders() -> None:
    """Alembic < 1.16 ignores ``path_separator``: no plug-in revision would be found (nor core's)."""
    heads = migrate.head_revisions()
    assert "alerting_0003" in heads and "api_0002" in heads and len(heads) == 3


def test_uvicorn_serves_with_httptools_and_uvloop() -> None:
    """uvicorn's "auto" HTTP protocol is httptools' C parser when it imports, and uvloop runs a loop:
    the API's CPU per answer rests on both (docs/api.md, "Serving many clients")."""
    import uvloop
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    async def answer() -> int:
        return 42

    assert AutoHTTPProtocol.__name__ == "HttpToolsProtocol"
    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(answer()) == 42
    finally:
        loop.close()
