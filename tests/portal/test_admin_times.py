"""The admin, where staff fall back to, shows times with their zone and seconds."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_admin_shows_times_with_zone_and_seconds(client, django_user_model, stored):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-12345"))
    page = client.get("/admin/ingest/auditevent/").content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page), page[:2000]
    assert "a.m." not in page and "p.m." not in page
