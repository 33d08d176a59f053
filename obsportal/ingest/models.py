"""Stored audit events, their streams, and what ingestion refused or flagged."""

from __future__ import annotations

from django.db import models


class Stream(models.Model):
    """One writer's hash chain; its head is what the next event must link to."""

    class Status(models.TextChoices):
        OK = "ok", "ok"
        FORKED = "forked", "forked"
        BROKEN = "broken", "broken"
        # A batch of it could not be admitted (dead letter `admission_failed`): the stream
        # may not move until someone looks; never a silent stall.
        STALLED = "stalled", "stalled"

    id = models.CharField(primary_key=True, max_length=200)
    agent_id = models.CharField(max_length=200, db_index=True)
    head_seq = models.BigIntegerField(default=-1)
    head_hash = models.CharField(max_length=64, default="0" * 64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    # Events parked ahead of a gap; lets admission skip the pending table when zero.
    pending_count = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"stream {self.id} (head {self.head_seq})"


class AuditEvent(models.Model):
    """One envelope-v1 event exactly as its agent hashed it (personal data aside)."""

    # Indexed, not unique: on PostgreSQL the table is partitioned by month (migration 0013)
    # and a unique index cannot span partitions. Admission refuses an event_id already
    # stored anywhere (storage.reused_event_id, Reason.DUPLICATE_EVENT_ID).
    event_id = models.UUIDField(db_index=True)
    # No index of its own: the unique (stream, seq) index serves stream lookups. No
    # database constraint either: admission creates and locks the stream's row in the
    # same transaction before it copies the rows, and the per-row check cost ~2.5 µs of
    # ~19 at ingest. A row whose stream has no record is what verification reports.
    stream = models.ForeignKey(
        Stream,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    seq = models.BigIntegerField()
    ts = models.DateTimeField()
    agent_id = models.CharField(max_length=200)
    action = models.CharField(max_length=200)
    result = models.CharField(max_length=16)
    user_id = models.CharField(max_length=200, null=True, blank=True)
    resource = models.CharField(max_length=1000, null=True, blank=True)
    details = models.JSONField(default=dict)
    trace_id = models.CharField(max_length=32, null=True, blank=True)
    span_id = models.CharField(max_length=16, null=True, blank=True)
    pii_commitments = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)
    # The RFC 8785 body exactly as its agent hashed it: what the API, bundles and
    # verification read. `details` and `pii_commitments` (jsonb, which rewrites numbers:
    # 1e21 becomes 1000000000000000000000) are query aids only. Null for rows stored
    # before it existed, which are rebuilt from the columns.
    canonical = models.TextField(null=True)
    received_at = models.DateTimeField(auto_now_add=True)
    # Whom the event is about (obsportal.ingest.subjects): not hashed, computed at
    # admission, filled for older rows by `manage.py backfill_subject_keys`.
    subject_key = models.CharField(max_length=32, null=True, blank=True)

    class Meta:
        # On PostgreSQL this is UNIQUE (stream_id, seq, ts), per month partition (0013); the
        # one row per (stream, seq) across months is admission's: only head + 1, under the
        # stream's row lock.
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="audit_event_stream_seq"),
        ]
        # The API lists newest first, ordered by (ts, id): each filter's index ends in
        # (ts, id) so a filtered page is one backward index range scan, no sort.
        # Two are partial, so most rows skip them at ingest (each index costs ~2 µs a
        # row): success is most events, and a page of them is the first rows of
        # audit_ts; an event outside any span has no trace_id to look up.
        indexes = [
            models.Index(fields=["agent_id", "ts", "id"], name="audit_agent_ts"),
            models.Index(fields=["action", "ts", "id"], name="audit_action_ts"),
            models.Index(fields=["user_id", "ts", "id"], name="audit_user_ts"),
            models.Index(
                fields=["result", "ts", "id"],
                name="audit_unsuccessful_ts",
                condition=~models.Q(result="success"),
            ),
            models.Index(fields=["stream", "ts", "id"], name="audit_stream_ts"),
            models.Index(fields=["resource", "ts", "id"], name="audit_resource_ts"),
            models.Index(fields=["ts", "id"], name="audit_ts"),
            models.Index(
                fields=["trace_id"], name="audit_trace", condition=models.Q(trace_id__isnull=False)
            ),
            # A data subject's events in time order: one range (subject requests).
            models.Index(
                fields=["subject_key", "ts", "id"],
                name="audit_subject_ts",
                condition=models.Q(subject_key__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.stream_id}#{self.seq} {self.action} {self.result}"


class EventCount(models.Model):
    """How many events of one agent, action and result were admitted with a `ts` in one hour.

    Kept by admission in the transaction that stores the rows (`counts.count_events`),
    with ResultCount, its sum over actions, which the overview reads instead of counting
    millions of rows. Counts what was admitted: rows retention later prunes are not subtracted.
    """

    hour = models.DateTimeField()
    agent_id = models.CharField(max_length=200)
    action = models.CharField(max_length=200)
    result = models.CharField(max_length=16)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # Its index (hour first) also serves the overview's range of hours.
            models.UniqueConstraint(
                fields=["hour", "agent_id", "action", "result"], name="event_count_key"
            ),
        ]


class ResultCount(models.Model):
    """EventCount summed over actions: one agent's events of one result in one hour.

    The overview's grain (it never shows actions), kept beside EventCount by the same
    statements in the same transaction, so it is always exactly EventCount's sum (a test
    and `counts.counts_disagreeing` check it). A week of it is a few times fewer rows than a
    week of EventCount, and on PostgreSQL its key's index carries the count (INCLUDE,
    added by migration 0012: SQLite has no such index) for an index-only scan.
    """

    hour = models.DateTimeField()
    agent_id = models.CharField(max_length=200)
    result = models.CharField(max_length=16)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hour", "agent_id", "result"], name="result_count_key"),
        ]


class PersonalDatum(models.Model):
    """The erasable sidecar of one personal-data field; erasure deletes this row only."""

    # No database constraint: a key into the partitioned audit table would have to carry
    # its whole primary key (id, ts). The doors that remove rows (audit_door: prune, drop a
    # month) delete the sidecars themselves.
    event = models.ForeignKey(
        AuditEvent, on_delete=models.CASCADE, related_name="personal_data", db_constraint=False
    )
    field = models.CharField(max_length=200)
    value = models.JSONField()
    salt = models.CharField(max_length=32)
    # Whom this value is about (obsportal.ingest.subjects).
    subject_key = models.CharField(max_length=32, null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "field"], name="personal_datum_event_field"),
        ]
        indexes = [
            models.Index(
                fields=["subject_key", "event"],
                name="personal_datum_subject",
                condition=models.Q(subject_key__isnull=False),
            ),
        ]


class PendingEvent(models.Model):
    """An event that arrived ahead of a gap in its stream; admitted once the gap fills."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="pending")
    seq = models.BigIntegerField()
    # The event as JSON text, not jsonb: it must come back with the bytes it was hashed over.
    payload = models.TextField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "seq"], name="pending_event_stream_seq"),
        ]


class IntegrityIncident(models.Model):
    """Something the chain rules forbid, recorded instead of stored: a fork, a broken link."""

    class Kind(models.TextChoices):
        FORK = "fork", "fork"

    stream = models.ForeignKey(Stream, on_delete=models.PROTECT, related_name="incidents")
    seq = models.BigIntegerField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    stored_hash = models.CharField(max_length=64)
    offered_hash = models.CharField(max_length=64)
    offered_event = models.JSONField()
    detected_at = models.DateTimeField(auto_now_add=True)


class RejectedBatch(models.Model):
    """A dead letter: a batch refused as a whole, with the reason, nothing of it stored."""

    received_at = models.DateTimeField(auto_now_add=True)
    agent_id = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField(max_length=64)
    reason = models.TextField()
    event_count = models.IntegerField(default=0)
    # The first events only: enough to investigate, bounded in size.
    sample = models.JSONField(default=list)


class AgentKey(models.Model):
    """An agent's public head-signing key, pinned to its ingest credential.

    Trust on first use: the first signed batch a credential ships pins the key it was
    signed with (on the portal's trail); a batch signed with any other key is refused
    until an administrator retires the pin (`manage.py agent_keys retire`, on the trail).
    A retired pin stays: the heads it verified are still checked with it.
    """

    class How(models.TextChoices):
        FIRST_USE = "first_use", "first use"
        ADMIN = "admin", "pinned by an administrator"

    credential = models.ForeignKey(
        "accounts.AgentCredential", on_delete=models.PROTECT, related_name="agent_keys"
    )
    agent_id = models.CharField(max_length=200, db_index=True)
    public_key = models.CharField(max_length=64)  # hex of the raw 32-byte Ed25519 key
    fingerprint = models.CharField(max_length=32)
    how = models.CharField(max_length=16, choices=How.choices, default=How.FIRST_USE)
    pinned_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_by = models.CharField(max_length=200, blank=True)
    retired_reason = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["credential"],
                condition=models.Q(retired_at__isnull=True),
                name="agent_key_one_live_pin",
            ),
        ]

    def __str__(self) -> str:
        return f"key {self.fingerprint} of {self.agent_id} (credential {self.credential_id})"


class SignedStreamHead(models.Model):
    """The latest stream head its agent signed: verification holds the stored chain to it."""

    stream = models.OneToOneField(
        Stream, primary_key=True, on_delete=models.PROTECT, related_name="signed_head"
    )
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)
    public_key = models.CharField(max_length=64)  # hex
    signature = models.CharField(max_length=128)  # hex
    received_at = models.DateTimeField(auto_now=True)
