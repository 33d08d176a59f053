"""Keyset pages for the integrity lists: rows after (or back from before) a key, never an
OFFSET over millions of rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass(frozen=True)
class Page:
    """A keyset page: its rows and the keys of the pages before and after, if any."""

    rows: list[Any]
    after: Any = None
    before: Any = None


def keyset_page(
    rows: QuerySet, key: str, params: Mapping[str, Any], size: int, newest_first: bool = False
) -> Page:
    """One page of `rows` ordered by `key`, from `after=` or back from `before=`."""
    after, before = params.get("after"), params.get("before")
    forward_order, back_order = (f"-{key}", key) if newest_first else (key, f"-{key}")
    forward_cmp, back_cmp = ("lt", "gt") if newest_first else ("gt", "lt")
    if before not in (None, ""):
        chunk = list(rows.filter(**{f"{key}__{back_cmp}": before}).order_by(back_order)[: size + 1])
        more_before = len(chunk) > size
        chunk = list(reversed(chunk[:size]))
        page_after = getattr(chunk[-1], key) if chunk else None
        page_before = getattr(chunk[0], key) if chunk and more_before else None
        return Page(chunk, after=page_after, before=page_before)
    if after not in (None, ""):
        rows = rows.filter(**{f"{key}__{forward_cmp}": after})
    chunk = list(rows.order_by(forward_order)[: size + 1])
    more_after = len(chunk) > size
    chunk = chunk[:size]
    page_after = getattr(chunk[-1], key) if chunk and more_after else None
    page_before = getattr(chunk[0], key) if chunk and after not in (None, "") else None
    return Page(chunk, after=page_after, before=page_before)
