"""Move DRF's clear-text API tokens into knox, which keeps only their SHA-512 digest.

Each existing key keeps working (knox looks a token up by its first 15 characters and
compares the digest) until an expiry of OBSPORTAL_API_TOKEN_DAYS from the migration;
the clear-text table of rest_framework.authtoken is then dropped. Reversing issues
nothing back: the keys are no longer known, so tokens must be re-issued.
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

CLEAR_TEXT_TABLE = "authtoken_token"


def hash_clear_text_tokens(apps, schema_editor):
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS, knox_settings

    connection = schema_editor.connection
    if CLEAR_TEXT_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id, created FROM {CLEAR_TEXT_TABLE}")
        rows = cursor.fetchall()
    expiry = timezone.now() + knox_settings.TOKEN_TTL
    AuthToken.objects.bulk_create(
        [
            AuthToken(
                digest=hash_token(key),
                token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
                user_id=user_id,
                expiry=expiry,
            )
            for key, user_id, _created in rows
        ],
        ignore_conflicts=True,
    )
    schema_editor.execute(f"DROP TABLE {CLEAR_TEXT_TABLE}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_roles_and_credential_use"),
        ("knox", "0009_extend_authtoken_field"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(hash_clear_text_tokens, migrations.RunPython.noop, elidable=True),
    ]
