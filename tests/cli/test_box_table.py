"""Tables drawn without rich (:mod:`windvane.cli.box_table`) are byte for byte rich's, on a pipe."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from windvane.cli.box_table import PIPE_WIDTH, box_table
from windvane.cli.consoles import console_for
from windvane.cli.output import Output, rich_table

_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
_ANY = st.text(max_size=6)  # line breaks, tabs, wide and combining characters: rich's to draw


def _rich(headers: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    console_for(buffer).print(rich_table(headers, rows))
    return buffer.getvalue()


@st.composite
def _tables(draw: st.DrawFn, cells: st.SearchStrategy[str]) -> tuple[list[str], list[list[str]]]:
    width = draw(st.integers(1, 5))
    headers = draw(st.lists(cells, min_size=width, max_size=width))
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=1, max_size=4))
    return headers, rows


@settings(max_examples=150, deadline=None)
@given(_tables(_TEXT))
def test_plain_ascii_tables_are_drawn_as_rich_draws_them(table: tuple[list[str], list[list[str]]]) -> None:
    headers, rows = table
    assert box_table(headers, rows, max_width=PIPE_WIDTH) == _rich(headers, rows)


@settings(max_examples=100, deadline=None)
@given(_tables(_ANY))
def test_anything_else_is_left_to_rich_or_drawn_the_same(table: tuple[list[str], list[list[str]]]) -> None:
    headers, rows = table
    drawn = box_table(headers, rows, max_width=PIPE_WIDTH)
    assert drawn is None or drawn == _rich(headers, rows)


def test_a_table_wider_than_the_pipe_is_rich_s() -> None:
    assert box_table(["a"], [["x" * PIPE_WIDTH]], max_width=PIPE_WIDTH) is None
    assert box_table(["a", "b"], [["\u00e9", "x"]], max_width=PIPE_WIDTH) is None
    assert box_table(["a"], [["two\nlines"]], max_width=PIPE_WIDTH) is None


@pytest.mark.parametrize("forcing", ["FORCE_COLOR", "TTY_COMPATIBLE"])
def test_rich_draws_when_told_the_pipe_is_a_terminal(monkeypatch: pytest.MonkeyPatch, forcing: str) -> None:
    """With a variable that may make rich treat a pipe as a terminal, rich decides (and styles)."""
    rows = [{"dag_id": "a", "paused": False}]
    plain = io.StringIO()
    Output(stdout=plain, stderr=io.StringIO()).rows(rows, ["dag_id", "paused"])
    assert plain.getvalue() == _rich(["dag_id", "paused"], [["a", "no"]])
    monkeypatch.setenv(forcing, "1")
    styled = io.StringIO()
    Output(stdout=styled, stderr=io.StringIO()).rows(rows, ["dag_id", "paused"])
    assert styled.getvalue() == _rich(["dag_id", "paused"], [["a", "no"]])  # rich's own, in this environment
    if forcing == "FORCE_COLOR":  # every rich we support honours it (TTY_COMPATIBLE: rich >= 14)
        assert "\x1b[" in styled.getvalue()
