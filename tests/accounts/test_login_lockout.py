"""Sign-in: repeated wrong passwords lock the account out; weak passwords are refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def officer(django_user_model):
    return django_user_model.objects.create_user("officer", password=PASSWORD)


def sign_in(client, password: str, address: str = "10.0.0.8"):
    return client.post(
        "/accounts/login/",
        {"username": "officer", "password": password},
        REMOTE_ADDR=address,
    )


def test_after_repeated_wrong_passwords_the_right_one_is_refused(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(client, "not-the-password").status_code == 200
    assert sign_in(client, "not-the-password").status_code == 429
    locked = sign_in(client, PASSWORD)
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # The admin's login is the same door.
    admin = client.post(
        "/admin/login/?next=/admin/",
        {"username": "officer", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.8",
    )
    assert admin.status_code == 429


def test_the_lockout_holds_one_address_only(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "not-the-password")
    assert sign_in(client, PASSWORD, address="10.0.0.9").status_code == 302


def test_a_right_password_before_the_limit_signs_in_and_resets_the_count(client, officer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "not-the-password")
    assert sign_in(client, PASSWORD).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "not-the-password")
    assert sign_in(client, PASSWORD).status_code == 302


@pytest.mark.parametrize("password", ["password", "12345678901234", "short", "officer-2026"])
def test_weak_passwords_are_refused(officer, password):
    with pytest.raises(ValidationError):
        validate_password(password, user=officer)


def test_a_long_uncommon_password_is_accepted(officer):
    validate_password(PASSWORD, user=officer)
