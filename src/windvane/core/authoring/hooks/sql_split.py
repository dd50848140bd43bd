"""Splitting a SQL script into statements at the semicolons that end them (``split_statements=True``).

A ``;`` ends a statement only outside string literals (``'...'`` with ``''`` escapes, ``"..."``
identifiers, MySQL's backquoted names), comments (``-- ...`` to the end of the line,
``/* ... */``) and PostgreSQL dollar-quoted bodies (``$$ ... $$``, ``$tag$ ... $tag$``), so a
function body or a literal holding ``;`` stays whole. Statements are stripped; empty ones and ones
that hold only comments are dropped. (Airflow uses ``sqlparse.split`` here; this small scanner
also keeps dollar-quoted bodies whole and needs no dependency.)
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")
_ONLY_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*$", re.DOTALL)


def split_sql(script: str) -> list[str]:
    """The statements of ``script``, in order, without their ending ``;``."""
    statements: list[str] = []
    start = 0
    i = 0
    n = len(script)
    while i < n:
        ch = script[i]
        if ch in "'\"`":
            i = _end_of_quoted(script, i, ch)
        elif ch == "-" and script.startswith("--", i):
            newline = script.find("\n", i)
            i = n if newline < 0 else newline + 1
        elif ch == "/" and script.startswith("/*", i):
            close = script.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif ch == "$" and (tag := _DOLLAR_TAG.match(script, i)) is not None and _starts_token(script, i):
            close = script.find(tag.group(0), tag.end())
            i = n if close < 0 else close + len(tag.group(0))
        elif ch == ";":
            statements.append(script[start:i])
            i += 1
            start = i
        else:
            i += 1
    statements.append(script[start:])
    return [s.strip() for s in statements if not _ONLY_COMMENTS.match(s)]


def _end_of_quoted(script: str, i: int, quote: str) -> int:
    """The index just past the literal opened by ``quote`` at ``i`` (a doubled quote escapes it;
    inside ``'...'`` a backslash escapes the next character too, as MySQL reads it)."""
    j = i + 1
    n = len(script)
    while j < n:
        ch = script[j]
        if ch == "\\" and quote == "'":
            j += 2
            continue
        if ch == quote:
            if j + 1 < n and script[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n


def _starts_token(script: str, i: int) -> bool:
    """A ``$`` right after a word character is part of a name or a ``$1`` parameter, not a quote."""
    return i == 0 or not (script[i - 1].isalnum() or script[i - 1] == "_")
