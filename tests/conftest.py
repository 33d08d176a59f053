from __future__ import annotations

import pytest
from django.db.backends.signals import connection_created

from tests.factories import agent_credential, with_role
from tests.support.services import OwnRedis


def _allow_test_flush(sender, connection, **kwargs):
    # The append-only trigger refuses TRUNCATE; the test process itself (a
    # superuser: the flag works for no other role) must still be able to empty
    # tables between transactional tests. Workers and other connections keep the
    # trigger's full force.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET obsportal.audit_mutation = 'on'")


connection_created.connect(_allow_test_flush)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    """The trail's database copy stores what a test recorded before the test's database
    is torn down (a transactional test's tables are emptied: a late copy would leak)."""
    from obsportal.trail.services import flush_trail

    flush_trail()
    return (yield)


@pytest.fixture(autouse=True)
def trail_journal(settings, tmp_path_factory):
    """Each test's trail starts on a fresh stream, its journal in a directory of its own
    (the database of a test is rolled back; the journal of the last one must not go on)."""
    from obsportal.trail.services import reset_process_trail

    reset_process_trail()
    settings.OBSPORTAL_TRAIL_JOURNAL_DIR = tmp_path_factory.mktemp("trail")
    yield settings.OBSPORTAL_TRAIL_JOURNAL_DIR
    reset_process_trail()


@pytest.fixture
def agent_token(db):
    return "agent-7", agent_credential("agent-7")


@pytest.fixture
def api_client(db, django_user_model):
    from rest_framework.test import APIClient

    from obsportal.accounts.services import issue_api_token

    user = django_user_model.objects.create_user("auditor", password="pw-auditor-123")
    with_role(user, "auditor")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(user)}")
    return client


@pytest.fixture
def own_redis():
    """A redis-server of the test's own (the telemetry tests have theirs)."""
    server = OwnRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def signing_key(settings, tmp_path, monkeypatch):
    """A checkpoint signing key in a file of the test's own, its copies beside it."""
    from obsportal.integrity.signing import create_signing_key

    monkeypatch.delenv("OBSPORTAL_SIGNING_KEY", raising=False)
    settings.OBSPORTAL_SIGNING_KEY_FILE = tmp_path / "keys" / "checkpoint.key"
    settings.OBSPORTAL_CHECKPOINT_DIR = tmp_path / "checkpoints"
    return create_signing_key()


@pytest.fixture(scope="session")
def _migrated_embedded_template(tmp_path_factory):
    from tests.support.embedded import migrate

    template = tmp_path_factory.mktemp("embedded-template")
    migrate(template)
    return template


@pytest.fixture
def migrated_var_dir(_migrated_embedded_template, tmp_path):
    """An embedded var dir whose database is migrated (a copy, made in a moment)."""
    from tests.support.embedded import copy_migrated

    return copy_migrated(_migrated_embedded_template, tmp_path / "var")
