"""The integrity API's shapes: streams with their newest verification and signed head,
verification results and runs, checkpoints and checkpoint incidents."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents_sdk.audit.head_signing import key_fingerprint
from obsportal.ingest.models import Stream
from obsportal.integrity.anchors import pruned_ranges
from obsportal.integrity.models import (
    Checkpoint,
    CheckpointIncident,
    StreamVerification,
    VerificationRun,
)


class AgentSignedHeadSerializer(serializers.Serializer):
    """The latest head its agent signed: what verification holds the stream to."""

    seq = serializers.IntegerField()
    hash = serializers.CharField()
    fingerprint = serializers.CharField(help_text="sha256: and 16 hex digits of the agent key")
    public_key = serializers.CharField(help_text="hex of the agent's 32-byte Ed25519 key")
    signature = serializers.CharField(help_text="hex of the Ed25519 signature (format v1)")


class StreamSerializer(serializers.ModelSerializer):
    last_verification = serializers.SerializerMethodField()
    signed_head = serializers.SerializerMethodField()

    class Meta:
        model = Stream
        fields = [
            "id",
            "agent_id",
            "head_seq",
            "head_hash",
            "status",
            "pending_count",
            "last_verification",
            "signed_head",
        ]

    @extend_schema_field(AgentSignedHeadSerializer(allow_null=True))
    def get_signed_head(self, stream: Stream) -> dict | None:
        signed = getattr(stream, "signed_head", None)
        if signed is None:
            return None
        return {
            "seq": signed.seq,
            "hash": signed.hash,
            "fingerprint": key_fingerprint(bytes.fromhex(signed.public_key)),
            "public_key": signed.public_key,
            "signature": signed.signature,
        }

    def get_last_verification(self, stream: Stream) -> dict | None:
        run = getattr(stream, "last_verification_run", None)
        if run is None:
            return None
        return {
            "run": run,
            "status": stream.last_verification_status,
            "finished_at": stream.last_verified_at,
            "problems": stream.last_verification_problems,
        }


class StreamDetailSerializer(StreamSerializer):
    """One stream, with the ranges retention pruned from it (each by a signed anchor)."""

    pruned = serializers.SerializerMethodField()

    class Meta(StreamSerializer.Meta):
        fields = [*StreamSerializer.Meta.fields, "pruned"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_pruned(self, stream: Stream) -> list[dict]:
        return pruned_ranges(stream.pk)


class StreamVerificationSerializer(serializers.ModelSerializer):
    run_started_at = serializers.DateTimeField(source="run.started_at")
    run_finished_at = serializers.DateTimeField(source="run.finished_at")

    class Meta:
        model = StreamVerification
        fields = [
            "run",
            "run_started_at",
            "run_finished_at",
            "stream_id",
            "status",
            "events_checked",
            "verified_from",
            "verified_to",
            "last_seq",
            "recorded_head_seq",
            "first_break",
            "breaks",
            "gaps",
            "forks",
            "pruned",
            "erased",
            "checkpoint_disagreements",
            "problems",
            "agent_head",
        ]


class CheckpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = Checkpoint
        fields = [
            "number",
            "previous_hash",
            "issued_at",
            "origin",
            "tree_size",
            "root_hash",
            "key_id",
            "note",
        ]


class VerificationRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = VerificationRun
        fields = [
            "id",
            "started_at",
            "finished_at",
            "trigger",
            "status",
            "streams_checked",
            "streams_with_problems",
            "events_checked",
            "checkpoints_checked",
            "checkpoint_problems",
            "error",
        ]


class CheckpointIncidentSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckpointIncident
        fields = ["id", "detected_at", "checkpoint_number", "kind", "reason"]
