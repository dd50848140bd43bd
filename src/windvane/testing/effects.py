"""What a run produced, captured so two runs can be compared: XComs, files, table rows.

:class:`Watch` names where to look: directories (every file under them, by
content hash) and tables of a SQLAlchemy database (every row). :func:`capture`
takes an :class:`Effects` snapshot; :func:`diff_effects` lists, readably, what
differs between two: which XCom (first vs second value), which file (added,
removed, changed, with a short text diff), which row (by primary key: which
column changed from what to what; without one: rows only in either run).
Used by the idempotency and determinism checks.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

#: Files up to this size that decode as UTF-8 are kept as text, for a line diff.
TEXT_DIFF_LIMIT = 64 * 1024
#: At most this many lines/rows are quoted per difference.
SHOWN = 10


@dataclass(frozen=True)
class Watch:
    """Where a run's effects are looked for: ``dirs`` (label -> folder) and ``tables`` of ``db_url``."""

    dirs: Mapping[str, Path] = field(default_factory=dict)
    db_url: str | None = None
    tables: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, dirs: Iterable[Path | str] = (), db_url: str | None = None, tables: Iterable[str] = ()
    ) -> Watch:
        """A watch whose folders are labelled by their path as given."""
        return cls({str(d): Path(d) for d in dirs}, db_url, tuple(tables))

    def merged(self, other: Watch) -> Watch:
        if self.db_url and other.db_url and self.db_url != other.db_url:
            raise ValueError(f"one watched database per check: {self.db_url!r} and {other.db_url!r}")
        return Watch({**self.dirs, **other.dirs}, self.db_url or other.db_url, (*self.tables, *other.tables))


@dataclass(frozen=True)
class TableRows:
    columns: tuple[str, ...]
    key: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Effects:
    """A snapshot: XCom texts (``"task.key"`` or ``"dag.task.key"``), file hashes, small file texts, rows."""

    xcoms: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    texts: Mapping[str, str] = field(default_factory=dict, repr=False)
    tables: Mapping[str, TableRows] = field(default_factory=dict)


def capture(watch: Watch, xcoms: Mapping[str, str] | None = None) -> Effects:
    """Snapshot the watched folders and tables now, with ``xcoms`` (name -> JSON text)."""
    files: dict[str, str] = {}
    texts: dict[str, str] = {}
    for label, folder in watch.dirs.items():
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = f"{label.rstrip('/')}/{path.relative_to(folder).as_posix()}"
            data = path.read_bytes()
            files[name] = hashlib.sha256(data).hexdigest()
            if len(data) <= TEXT_DIFF_LIMIT:
                with contextlib.suppress(UnicodeDecodeError):
                    texts[name] = data.decode("utf-8")
    tables = _read_tables(watch.db_url, watch.tables) if watch.db_url and watch.tables else {}
    return Effects(dict(xcoms or {}), files, texts, tables)


def _read_tables(url: str, names: Sequence[str]) -> dict[str, TableRows]:
    engine = sa.create_engine(url)
    try:
        metadata = sa.MetaData()
        found: dict[str, TableRows] = {}
        with engine.connect() as conn:
            for name in names:
                if not sa.inspect(conn).has_table(name):
                    found[name] = TableRows((), (), ())
                    continue
                table = sa.Table(name, metadata, autoload_with=conn)
                rows = tuple(tuple(row) for row in conn.execute(sa.select(table)))
                key = tuple(c.name for c in table.primary_key.columns)
                found[name] = TableRows(
                    tuple(c.name for c in table.columns), key, tuple(sorted(rows, key=repr))
                )
        return found
    finally:
        engine.dispose()


def diff_effects(
    first: Effects, second: Effects, labels: tuple[str, str] = ("first run", "second run")
) -> list[str]:
    """One readable entry per difference (some span several lines); empty when the snapshots are equal."""
    return [
        *_diff_xcoms(first.xcoms, second.xcoms, labels),
        *_diff_files(first, second, labels),
        *(
            line
            for name in sorted(set(first.tables) | set(second.tables))
            for line in _diff_table(name, first.tables.get(name), second.tables.get(name), labels)
        ),
    ]


def _diff_xcoms(a: Mapping[str, str], b: Mapping[str, str], labels: tuple[str, str]) -> list[str]:
    lines = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name):
            first, second = _short(a.get(name, "(none)")), _short(b.get(name, "(none)"))
            lines.append(f"XCom {name}: {labels[0]} {first}, {labels[1]} {second}")
    return lines


def _diff_files(a: Effects, b: Effects, labels: tuple[str, str]) -> list[str]:
    lines = []
    for name in sorted(set(a.files) | set(b.files)):
        if name not in a.files:
            lines.append(f"file {name}: written only by the {labels[1]}")
        elif name not in b.files:
            lines.append(f"file {name}: present after the {labels[0]}, gone after the {labels[1]}")
        elif a.files[name] != b.files[name]:
            lines.append(
                f"file {name}: content differs (sha256 {a.files[name][:12]} {labels[0]}, "
                f"{b.files[name][:12]} {labels[1]})"
            )
            if name in a.texts and name in b.texts:
                diff = difflib.unified_diff(
                    a.texts[name].splitlines(), b.texts[name].splitlines(), labels[0], labels[1], lineterm=""
                )
                lines[-1] += "".join("\n    " + line for line in list(diff)[2 : 2 + SHOWN * 2])
    return lines


def _diff_table(name: str, a: TableRows | None, b: TableRows | None, labels: tuple[str, str]) -> list[str]:
    a = a or TableRows((), (), ())
    b = b or TableRows((), (), ())
    if a.rows == b.rows:
        return []
    if a.key and a.key == b.key and a.columns == b.columns:
        return _diff_keyed(name, a, b, labels)
    only_a = Counter(a.rows) - Counter(b.rows)
    only_b = Counter(b.rows) - Counter(a.rows)
    lines = [f"table {name}: {len(a.rows)} rows after the {labels[0]}, {len(b.rows)} after the {labels[1]}"]
    columns = ", ".join(b.columns or a.columns)
    for which, rows in ((labels[0], only_a), (labels[1], only_b)):
        listed = list(rows.elements())
        if listed:
            lines.append(f"    {len(listed)} row(s) only after the {which} ({columns}):")
            lines.extend(f"      {row!r}" for row in listed[:SHOWN])
    return ["\n".join(lines)]


def _diff_keyed(name: str, a: TableRows, b: TableRows, labels: tuple[str, str]) -> list[str]:
    index = [a.columns.index(k) for k in a.key]

    def keyed(rows: tuple[tuple[Any, ...], ...]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {tuple(row[i] for i in index): row for row in rows}

    ra, rb = keyed(a.rows), keyed(b.rows)
    lines = []
    for key in sorted(set(ra) | set(rb), key=repr):
        where = f"table {name} row " + ", ".join(f"{k}={v!r}" for k, v in zip(a.key, key, strict=True))
        if key not in ra:
            lines.append(f"{where}: added by the {labels[1]}: {rb[key]!r}")
        elif key not in rb:
            lines.append(f"{where}: removed by the {labels[1]} (was {ra[key]!r})")
        elif ra[key] != rb[key]:
            changes = [
                f"{col} {labels[0]} {x!r}, {labels[1]} {y!r}"
                for col, x, y in zip(a.columns, ra[key], rb[key], strict=True)
                if x != y
            ]
            lines.append(f"{where}: " + "; ".join(changes))
    if len(lines) > SHOWN:
        lines[SHOWN:] = [f"table {name}: {len(lines) - SHOWN} more rows differ"]
    return lines


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
