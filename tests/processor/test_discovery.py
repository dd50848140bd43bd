"""Listing DAG files, ignore rules, safe mode and change detection (no database)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from windvane.core.processor import discovery
from windvane.core.processor.discovery import ChangeDetector, list_dag_files, might_contain_dag

DAG_TEXT = "from windvane.core.authoring.dag import DAG\n"


def _touch(path: Path, text: str = DAG_TEXT) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_lists_py_files_recursively_skipping_hidden_and_pycache(tmp_path: Path) -> None:
    keep = [_touch(tmp_path / "a.py"), _touch(tmp_path / "sub" / "deeper" / "b.py")]
    _touch(tmp_path / "notes.txt")
    _touch(tmp_path / ".hidden.py")
    _touch(tmp_path / ".git" / "c.py")
    _touch(tmp_path / "__pycache__" / "d.py")
    _touch(tmp_path / "sub" / "__pycache__" / "e.py")
    assert list_dag_files(str(tmp_path)) == sorted(keep)


def test_missing_folder_lists_nothing(tmp_path: Path) -> None:
    assert list_dag_files(str(tmp_path / "nope")) == []


def test_windvaneignore_patterns_are_regexes_relative_to_their_folder(tmp_path: Path) -> None:
    (tmp_path / ".windvaneignore").write_text("# comment\n\nscratch_.*\n^vendor/\n[broken\n")
    keep = _touch(tmp_path / "etl.py")
    _touch(tmp_path / "scratch_one.py")
    _touch(tmp_path / "vendor" / "lib.py")
    nested = tmp_path / "team"
    nested.mkdir()
    (nested / ".windvaneignore").write_text("^old\\.py$\n")
    keep_nested = _touch(nested / "new.py")
    _touch(nested / "old.py")
    _touch(nested / "scratch_two.py")  # the parent's rule applies below it too
    assert list_dag_files(str(tmp_path)) == sorted([keep, keep_nested])


def test_safe_mode_needs_both_words_in_any_case() -> None:
    assert might_contain_dag(b"from WindVane import DAG")
    assert not might_contain_dag(b"import windvane  # no d-word")
    assert not might_contain_dag(b"dag = 1")


def test_change_detector_hashes_only_when_stat_moves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _touch(tmp_path / "a.py")
    detector = ChangeDetector()
    first = detector.scan([path])
    assert first.to_parse == [path]
    detector.mark_parsed(path, first.hashes[path])

    reads: list[str] = []
    real_read = ChangeDetector._read

    def counting_read(self: ChangeDetector, p: str, st: os.stat_result) -> discovery.FileState | None:
        reads.append(p)
        return real_read(self, p, st)

    monkeypatch.setattr(ChangeDetector, "_read", counting_read)
    assert detector.scan([path]).unchanged == [path]
    assert reads == []  # same (mtime_ns, size): the file is not even read

    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched, same bytes
    again = detector.scan([path])
    assert reads == [path] and again.unchanged == [path] and again.to_parse == []
    assert detector.scan([path], force=True).to_parse == [path]


def test_change_detector_reports_vanished_and_no_longer_dag_files(tmp_path: Path) -> None:
    a, b = _touch(tmp_path / "a.py"), _touch(tmp_path / "b.py")
    detector = ChangeDetector(parsed_hashes={a: "old", b: "old"})
    Path(b).write_text("print('no longer mentions the words')\n")
    result = detector.scan([b])
    assert result.vanished == sorted([a, b])
    assert result.not_dag_files == [b]


def test_safe_mode_off_parses_everything(tmp_path: Path) -> None:
    path = _touch(tmp_path / "plain.py", "x = 1\n")
    assert ChangeDetector(safe_mode=True).scan([path]).not_dag_files == [path]
    assert ChangeDetector(safe_mode=False).scan([path]).to_parse == [path]


def test_seeded_hashes_skip_unchanged_files_after_restart(tmp_path: Path) -> None:
    path = _touch(tmp_path / "a.py")
    digest = ChangeDetector().scan([path]).hashes[path]
    assert ChangeDetector(parsed_hashes={path: digest}).scan([path]).unchanged == [path]
