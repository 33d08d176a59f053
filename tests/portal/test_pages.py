"""The events page, the health endpoints and the served OpenAPI schema."""

import pytest

from tests.factories import with_role

pytestmark = pytest.mark.django_db


def test_openapi_schema_is_served(api_client):
    response = api_client.get("/api/v1/schema/")
    assert response.status_code == 200
    assert b"/api/v1/events/" in response.content


def test_events_page_requires_login_and_lists_events(client, django_user_model, stored):
    assert client.get("/").status_code == 302
    with_role(django_user_model.objects.create_user("officer", password="pw-officer-123"))
    client.login(username="officer", password="pw-officer-123")
    assert "Overview" in client.get("/").content.decode()
    page = client.get("/events/").content.decode()
    assert "Audit events" in page and "llm_call" in page and "denied" in page


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["database"] == "ok"
