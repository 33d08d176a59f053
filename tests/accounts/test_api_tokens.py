"""REST API tokens: kept only as digests, with an expiry; clear-text ones migrated."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from obsportal.accounts.services import issue_agent_token, issue_api_token
from tests.factories import with_role

pytestmark = pytest.mark.django_db


def all_text_in_the_database() -> str:
    """Every text and JSON value of every table, as one string."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.extend(str(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_an_api_token_works_and_is_not_stored_in_clear(client, django_user_model):
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    token = issue_api_token(user)
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert token not in all_text_in_the_database()


def test_an_ingest_token_is_not_stored_in_clear(agent_token):
    _agent, token = agent_token
    assert token not in all_text_in_the_database()


def test_an_expired_api_token_is_refused(client, django_user_model):
    from knox.models import AuthToken

    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    token = issue_api_token(user, ttl=timedelta(days=1))
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401


def test_api_tokens_expire_by_default(django_user_model, settings):
    from knox.models import AuthToken

    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    issue_api_token(user)
    expiry = AuthToken.objects.get(user=user).expiry
    assert expiry is not None
    assert expiry - timezone.now() <= settings.REST_KNOX["TOKEN_TTL"]


def test_issue_api_token_command_prints_a_working_token_once(client, django_user_model, capsys):
    with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    call_command("issue_api_token", "auditor", "--days", "7")
    token = capsys.readouterr().out.strip()
    assert client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    assert token not in all_text_in_the_database()


def test_the_admin_does_not_list_tokens_in_clear(admin_client, django_user_model):
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    token = issue_api_token(user)
    issue_agent_token("agent-9")
    page = admin_client.get("/admin/knox/authtoken/").content.decode()
    assert "auditor" in page and token not in page


@pytest.mark.django_db(transaction=True)
def test_a_clear_text_token_of_before_keeps_working_and_is_dropped(client, django_user_model):
    """The migration from DRF's authtoken table: the old key still signs in, and the
    clear-text table is gone."""
    executor = MigrationExecutor(connection)
    executor.migrate([("accounts", "0002_roles_and_credential_use")])
    user = with_role(django_user_model.objects.create_user("auditor", password="pw-auditor-123"))
    old_key = "3f2a" * 10
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamptz NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", (old_key, user.pk))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert "authtoken_token" not in connection.introspection.table_names()
    response = client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Token {old_key}")
    assert response.status_code == 200
    assert old_key not in all_text_in_the_database()
