"""Subject keys: which data subject an audit row and each personal-data sidecar are about.

A subject key is HMAC-SHA256 of a normalized identifier under the portal's subject key
(a secret outside the database, like the signing key), truncated to 128 bits and kept
as 32 hex digits. It is computed at admission and indexed on both tables, so
"everything about this person" is one index range per table, and the database alone
never names the person: without the key, a subject key cannot be tied to an identifier.

Which identifiers (docs/subjects.md, "Subject keys"):

- an event's key is that of its `user_id` (the human the agent acts for); an event
  without one takes the key of its first identifying personal-data field;
- a sidecar of an identifying field (its last dotted part is in
  OBSPORTAL_SUBJECT_FIELDS: `email`, `subject_email`, `patient_id`, ...) carries the key
  of its own value; any other sidecar (a prompt, an address) that of its event.

Normalization: Unicode NFKC, surrounding whitespace stripped, case folded, so that
`Alice@Example.org ` and `alice@example.org` are one person.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

KEY_ENV = "OBSPORTAL_SUBJECT_KEY"
KEY_HEX_DIGITS = 32

DEFAULT_IDENTIFIER_FIELDS = frozenset(
    {
        "user_id",
        "email",
        "subject",
        "subject_email",
        "subject_id",
        "patient_id",
        "username",
        "phone",
    }
)


class SubjectKeyMissing(Exception):
    """The portal's subject key cannot be read."""


def normalize_identifier(identifier: str) -> str:
    return unicodedata.normalize("NFKC", identifier).strip().casefold()


@lru_cache(maxsize=1)
def _portal_key() -> bytes:
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode()
    path = Path(settings.OBSPORTAL_SUBJECT_KEY_FILE)
    if not path.is_file():
        # First run: make one (mode 0600). Keep it with the signing key: with another
        # key, new rows would get keys that no request made under the old one matches.
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it meanwhile
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    try:
        return path.read_text().strip().encode()
    except OSError as exc:
        raise SubjectKeyMissing(f"the subject key at {path} cannot be read: {exc}") from exc


def reset_key_cache() -> None:
    """Forget the loaded key and field list (tests that change them; a rotated key)."""
    _portal_key.cache_clear()
    subject_key.cache_clear()
    identifier_fields.cache_clear()
    _identifying.cache_clear()


@lru_cache(maxsize=65536)  # user ids repeat: most events cost a dict lookup, not an HMAC
def subject_key(identifier: str) -> str:
    """The subject key of an identifier (32 hex digits)."""
    message = normalize_identifier(identifier).encode()
    return hmac.new(_portal_key(), message, hashlib.sha256).hexdigest()[:KEY_HEX_DIGITS]


@lru_cache(maxsize=1)  # read per event at admission: a settings lookup costs more than the HMAC
def identifier_fields() -> frozenset[str]:
    return frozenset(getattr(settings, "OBSPORTAL_SUBJECT_FIELDS", DEFAULT_IDENTIFIER_FIELDS))


def is_identifier_field(name: str, fields: frozenset[str] | None = None) -> bool:
    return name.rsplit(".", 1)[-1] in (fields if fields is not None else identifier_fields())


@lru_cache(maxsize=4096)  # a handful of field names, seen on every event that has them
def _identifying(name: str) -> bool:
    return is_identifier_field(name, identifier_fields())


def _as_identifier(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def event_keys(
    user_id: str | None, pii: dict[str, Any] | None
) -> tuple[str | None, dict[str, str]]:
    """(the event's subject key, field -> the subject key of each sidecar)."""
    if not pii:
        return (subject_key(user_id) if user_id else None), {}
    own: dict[str, str] = {}
    for name, entry in pii.items():
        if _identifying(name):
            identifier = _as_identifier(entry.get("value") if isinstance(entry, dict) else None)
            if identifier is not None:
                own[name] = subject_key(identifier)
    event_key = subject_key(user_id) if user_id else next(iter(own.values()), None)
    sidecars = {}
    for name in pii:
        key = own.get(name, event_key)
        if key is not None:
            sidecars[name] = key
    return event_key, sidecars


def backfill_subject_keys(chunk_size: int = 5000) -> int:
    """Give rows stored before subject keys existed theirs; the rows (events and sidecars)
    filled. One pass in id order, one transaction a chunk: resumable, idempotent."""
    from django.db import transaction

    from obsportal.ingest.audit_door import fill_subject_keys
    from obsportal.ingest.models import AuditEvent, PersonalDatum

    filled, after = 0, 0
    while True:
        rows = list(
            AuditEvent.objects.filter(pk__gt=after, subject_key__isnull=True)
            .order_by("pk")
            .values_list("pk", "user_id")[:chunk_size]
        )
        if not rows:
            return filled
        after = rows[-1][0]
        sidecars: dict[int, list[tuple[int, str, Any]]] = {}
        for pk, event_pk, name, value in PersonalDatum.objects.filter(
            event_id__in=[pk for pk, _ in rows], subject_key__isnull=True
        ).values_list("pk", "event_id", "field", "value"):
            sidecars.setdefault(event_pk, []).append((pk, name, value))
        event_updates, sidecar_updates = [], []
        for pk, user_id in rows:
            entries = sidecars.get(pk, [])
            key, keys = event_keys(user_id, {name: {"value": value} for _, name, value in entries})
            event_updates.append((pk, key))
            sidecar_updates.extend((datum_pk, keys.get(name)) for datum_pk, name, _ in entries)
        with transaction.atomic():
            filled += fill_subject_keys(event_updates, sidecar_updates)
