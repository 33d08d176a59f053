"""Query helpers below every app (they import none): several counts in one round trip."""

from __future__ import annotations

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import QuerySet


def counts(**querysets: QuerySet) -> dict[str, int]:
    """Each queryset's count, by name, from one SELECT of scalar subqueries.

    Why: a page of small figures (the overview) otherwise pays one round trip a figure,
    and on a busy host each costs more than the count itself.
    """
    parts, params, found = [], [], dict.fromkeys(querysets, 0)
    names = []
    for name, rows in querysets.items():
        try:
            sql, row_params = rows.order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # `.none()` or an empty `__in`: nothing to ask
            continue
        parts.append(f"(SELECT count(*) FROM ({sql}) AS counted)")
        params.extend(row_params)
        names.append(name)
    if not parts:
        return found
    database = next(iter(querysets.values())).db
    with connections[database].cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        found.update(zip(names, cursor.fetchone(), strict=True))
    return found
