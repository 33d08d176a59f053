"""The only paths that change stored audit data: retention's prune, erasure's sidecar delete,
and the one-time fill of subject keys on rows stored before they existed.

On PostgreSQL both run as SECURITY DEFINER functions owned by `obsportal_audit_owner`
(ingest migration 0005): the application's role itself cannot change audit rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection

from obsportal.ingest.models import AuditEvent, PersonalDatum


def prune_events(stream_id: str, first_seq: int, last_seq: int) -> int:
    """Remove seq first..last of one stream and their sidecars; the number of events removed."""
    if first_seq > last_seq:
        raise ValueError(f"prune range {first_seq}..{last_seq} is reversed")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT obsportal_prune_audit_events(%s, %s, %s)", [stream_id, first_seq, last_seq]
            )
            return cursor.fetchone()[0]
    events = AuditEvent.objects.filter(stream_id=stream_id, seq__range=(first_seq, last_seq))
    PersonalDatum.objects.filter(event__in=events).delete()
    return events.delete()[0]


def erase_personal_data(event_pks: Sequence[int], fields: Sequence[str]) -> int:
    """Delete the sidecar entries `fields` of the given audit rows; the hashed rows stay."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT obsportal_erase_personal_data(%s, %s)", [list(event_pks), list(fields)]
            )
            return cursor.fetchone()[0]
    return PersonalDatum.objects.filter(event_id__in=event_pks, field__in=fields).delete()[0]


def fill_subject_keys(
    events: Sequence[tuple[int, str | None]], sidecars: Sequence[tuple[int, str | None]]
) -> int:
    """Fill the subject keys of older rows (pk, key) that have none yet; the rows filled."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT obsportal_fill_subject_keys(%s, %s, %s, %s)",
                [
                    [pk for pk, _ in events],
                    [key for _, key in events],
                    [pk for pk, _ in sidecars],
                    [key for _, key in sidecars],
                ],
            )
            return cursor.fetchone()[0]
    filled = 0
    for pk, key in events:
        if key:
            filled += AuditEvent.objects.filter(pk=pk, subject_key__isnull=True).update(
                subject_key=key
            )
    for pk, key in sidecars:
        if key:
            filled += PersonalDatum.objects.filter(pk=pk, subject_key__isnull=True).update(
                subject_key=key
            )
    return filled


def drop_month_partition(name: str) -> int:
    """Detach and drop one month partition with its sidecars; the events dropped.

    PostgreSQL only (SQLite has no partitions). The door refuses unless a prune anchor of
    each stream in the month reaches its last seq there: write the anchors first, in the
    same transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT obsportal_drop_audit_partition(%s)", [name])
        return cursor.fetchone()[0]
