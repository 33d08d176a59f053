"""Several counts in one round trip, each the queryset's own count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

pytestmark = pytest.mark.django_db


def test_counts_match_each_querysets_count_in_one_query(django_user_model):
    from obsportal.queries import counts

    for name in ("ann", "bob", "cy"):
        django_user_model.objects.create_user(name, is_staff=name != "cy")
    users = django_user_model.objects
    asked = {
        "all": users.all(),
        "staff": users.filter(is_staff=True),
        "named": users.filter(username__in=["ann", "zed"]),
        "nobody": users.none(),
        "empty_in": users.filter(username__in=[]),
    }
    with CaptureQueriesContext(connection) as queries:
        found = counts(**asked)
    assert len(queries) == 1
    assert found == {name: rows.count() for name, rows in asked.items()}
    assert found["staff"] == 2 and found["nobody"] == 0
