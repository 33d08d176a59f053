"""Signed checkpoints of stream heads, and the stored results of verification runs."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Checkpoint(models.Model):
    """A signed C2SP checkpoint over the heads of all streams at one moment.

    Checkpoints form a chain: `number` counts from 1 without gaps and
    `previous_hash` is the SHA-256 of the predecessor's signed note; both are also
    signed inside the note (extension lines `number` and `previous`).
    """

    number = models.BigIntegerField(unique=True)
    previous_hash = models.CharField(max_length=64)
    issued_at = models.DateTimeField(db_index=True)
    origin = models.CharField(max_length=200)
    tree_size = models.IntegerField()
    root_hash = models.CharField(max_length=64)
    key_id = models.CharField(max_length=8)
    # The signed note exactly as signed; a copy also lives outside PostgreSQL.
    note = models.TextField()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"checkpoint {self.number} ({self.tree_size} heads)"


class CheckpointIncident(models.Model):
    """Found while signing: the predecessor of the new checkpoint is missing or differs."""

    class Kind(models.TextChoices):
        PREDECESSOR_MISSING = "predecessor_missing", "predecessor missing"
        PREDECESSOR_DIFFERS = "predecessor_differs", "predecessor differs"

    detected_at = models.DateTimeField(auto_now_add=True)
    checkpoint_number = models.BigIntegerField()  # the checkpoint being signed
    kind = models.CharField(max_length=32, choices=Kind.choices)
    reason = models.TextField()

    class Meta:
        ordering = ["-id"]


class CheckpointHead(models.Model):
    """One leaf of a checkpoint: a stream's head (seq, hash) when it was signed.

    `stream_id` is plain text, not a foreign key: a checkpoint must outlive the
    stream it names, since a stream deleted around the database's guards is
    exactly what it exists to reveal.
    """

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.CASCADE, related_name="heads")
    leaf_index = models.IntegerField()
    stream_id = models.CharField(max_length=200)
    seq = models.BigIntegerField()
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "leaf_index"], name="ckpt_head_leaf"),
            models.UniqueConstraint(fields=["checkpoint", "stream_id"], name="ckpt_head_stream"),
        ]
        indexes = [models.Index(fields=["stream_id", "seq"], name="ckpt_head_stream_seq")]


class VerificationRun(models.Model):
    """One walk over streams; its per-stream findings are StreamVerification rows."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        VERIFIED = "verified", "all verified"
        PROBLEMS = "problems", "problems found"
        FAILED = "failed", "did not finish"

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=32, default="command")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    streams_checked = models.IntegerField(default=0)
    streams_with_problems = models.IntegerField(default=0)
    events_checked = models.BigIntegerField(default=0)
    checkpoints_checked = models.IntegerField(default=0)
    # Checkpoints whose stored heads no longer reproduce their signed root, or whose
    # signature fails: the checkpoint table itself was touched.
    checkpoint_problems = models.JSONField(default=list)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]


class StreamVerification(models.Model):
    """What one run found in one stream; list fields are capped (see `MAX_LISTED`)."""

    class Status(models.TextChoices):
        VERIFIED = "verified", "verified"
        BROKEN = "broken", "broken"
        FORKED = "forked", "forked"
        MISSING = "missing", "missing"
        # Whole so far, but events were received that are not admitted yet (never "verified").
        INCOMPLETE = "incomplete", "events waiting"

    run = models.ForeignKey(VerificationRun, on_delete=models.CASCADE, related_name="streams")
    stream_id = models.CharField(max_length=200, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    events_checked = models.BigIntegerField(default=0)
    # The contiguous run from seq 0 in which every hash and link verified.
    verified_from = models.BigIntegerField(null=True)
    verified_to = models.BigIntegerField(null=True)
    last_seq = models.BigIntegerField(null=True)
    recorded_head_seq = models.BigIntegerField(null=True)
    first_break = models.JSONField(null=True)  # {"seq", "event_id", "reason"}
    breaks = models.JSONField(default=list)
    gaps = models.JSONField(default=list)  # [[first missing seq, last missing seq], ...]
    forks = models.JSONField(default=list)
    pruned = models.JSONField(default=list)
    erased = models.JSONField(default=list)  # [{"seq", "event_id", "field"}]
    checkpoint_disagreements = models.JSONField(default=list)
    problems = models.IntegerField(default=0)
    # The latest agent-signed head and what it says of the stream (see
    # `verification.agent_heads`): {"status", "seq", "hash", "fingerprint"} or a reason.
    agent_head = models.JSONField(default=dict)

    class Meta:
        ordering = ["stream_id"]
        # A stream's newest result is one probe: the streams list reads it per stream.
        indexes = [models.Index(fields=["stream_id", "-id"], name="stream_verif_latest")]


class EvidenceExport(models.Model):
    """An evidence bundle requested by someone and built by a Celery task into a file."""

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "building"
        DONE = "done", "ready"
        REFUSED = "refused", "refused"
        FAILED = "failed", "failed"

    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent_id = models.CharField(max_length=200)
    since = models.DateTimeField(null=True)
    until = models.DateTimeField(null=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    events_total = models.BigIntegerField(default=0)
    events_written = models.BigIntegerField(default=0)
    selected = models.BigIntegerField(default=0)
    file_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-id"]


class VerificationRequest(models.Model):
    """ "Verify now", asked by an officer: on the trail when asked, run by a Celery task.

    The row is the job: it exists (and its trail event is committed) before the task is
    queued, and the task reports its progress and its run here.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "finished"
        FAILED = "failed", "failed"

    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # One stream, or "" for every stream.
    stream_id = models.CharField(max_length=200, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # Events the walk should cover (from the stream heads) and those walked so far.
    events_total = models.BigIntegerField(default=0)
    events_done = models.BigIntegerField(default=0)
    run = models.ForeignKey(VerificationRun, null=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]


class PruneAnchor(models.Model):
    """A signed statement that retention removed seq first..last of a stream.

    Written (by retention, through `integrity.anchors`) before the rows go, in the same
    transaction as the deletion, so a committed deletion always has its anchor and an
    anchor without a deletion only makes verification report the rows as still present.
    Verification starts the stream after the newest anchor: the next event must link
    to `last_hash`. `note` is a C2SP signed note by the checkpoint key; anchors of one
    stream chain through `previous` (SHA-256 of the predecessor's note), and a copy of
    each lives beside the checkpoint copies, outside PostgreSQL.
    """

    stream_id = models.CharField(max_length=200)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    last_hash = models.CharField(max_length=64)
    count = models.BigIntegerField()
    policy = models.CharField(max_length=200)
    plan_id = models.BigIntegerField()
    run_id = models.BigIntegerField(null=True)
    pruned_at = models.DateTimeField()
    previous = models.CharField(max_length=64)
    key_id = models.CharField(max_length=8)
    note = models.TextField()
    note_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["stream_id", "last_seq"]
        constraints = [
            models.UniqueConstraint(
                fields=["stream_id", "last_seq"], name="prune_anchor_stream_last"
            ),
        ]

    def __str__(self) -> str:
        return f"prune anchor {self.stream_id} 0..{self.last_seq} ({self.policy})"


class IncidentAcknowledgement(models.Model):
    """Someone's word on record that an incident was looked at, and what was done about it.

    It hides nothing: the incident stays listed, marked acknowledged. The word is also an
    event of the portal's trail (`incident.acknowledge`, resource
    `incidentacknowledgement:<pk>`); a row without its trail event is shown as such.
    `fingerprint` names the incident (`acknowledgements.fingerprint`): a gap that moves or
    a finding whose problem changes is a new incident, open again.
    """

    kind = models.CharField(max_length=16)
    fingerprint = models.CharField(max_length=600)
    summary = models.TextField()  # the incident as it read when it was acknowledged
    note = models.TextField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "fingerprint"], name="incident_ack_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.fingerprint} acknowledged by {self.acknowledged_by_id}"
