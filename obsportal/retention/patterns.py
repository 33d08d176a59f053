"""A policy's shell patterns (`*`, `?`, `[...]`) as SQL that matches what `fnmatchcase`
matches: the run and the dry run select in SQL, the pages ask `fnmatchcase`."""

from __future__ import annotations

from typing import Any

from django.db import connection


def glob_to_like(pattern: str) -> str:
    """A shell pattern (`*`, `?`) as a LIKE pattern with `\\` as its escape."""
    out = []
    for char in pattern:
        if char in "\\%_":
            out.append("\\" + char)
        elif char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        else:
            out.append(char)
    return "".join(out)


def glob_to_regex(pattern: str) -> str:
    """A shell pattern with `[...]` classes as an anchored PostgreSQL regular expression that
    matches what `fnmatchcase` matches: classes kept (`[!...]` negated), everything else
    literal (a backslash before any non-alphanumeric character is that character)."""
    out, i = ["^"], 0
    while i < len(pattern):
        char = pattern[i]
        first = i + 1 + (pattern[i + 1 : i + 2] == "!")  # as fnmatch: `]` first is literal
        end = pattern.find("]", first + (pattern[first : first + 1] == "]"))
        if char == "[" and end != -1:
            body = pattern[i + 1 : end]
            if body.startswith("!"):
                body = "^" + body[1:]
            elif body.startswith("^"):
                body = "\\^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        out.append({"*": ".*", "?": "."}.get(char, char if char.isalnum() else "\\" + char))
        i += 1
    return "".join(out) + "$"


def pattern_sql(column: str, pattern: str, params: list[Any]) -> str | None:
    """The SQL condition that `column` matches the shell `pattern` (None for `*`: all);
    its parameter appended to `params`."""
    if pattern == "*":
        return None
    if connection.vendor == "sqlite":
        # SQLite's LIKE ignores case; its GLOB is the shell pattern itself, case and all.
        params.append(pattern)
        return f"{column} GLOB %s"
    if "[" in pattern:  # LIKE has no classes: the policy's `[...]` must mean what fnmatch says
        params.append(glob_to_regex(pattern))
        return f"{column} ~ %s"
    params.append(glob_to_like(pattern))
    return f"{column} LIKE %s ESCAPE '\\'"
