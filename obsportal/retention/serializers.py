"""Retention's API shapes: what a policy, change, hold, plan and run look like on the wire,
and the inputs the views validate before they call a service."""

from __future__ import annotations

from rest_framework import serializers

from obsportal.api_fields import StrictCharField
from obsportal.retention.floors import floors
from obsportal.retention.models import (
    Framework,
    LegalHold,
    PolicyChange,
    RetentionPlan,
    RetentionPolicy,
    RetentionRun,
)
from obsportal.retention.services.policies import MAX_KEEP_DAYS


def username_of(person: str) -> serializers.CharField:
    """The username of a row's person field (who requested, decided, placed...), or null."""
    return serializers.CharField(
        source=f"{person}.username", default=None, allow_null=True, read_only=True
    )


class PolicySerializer(serializers.ModelSerializer):
    floor = serializers.SerializerMethodField()

    class Meta:
        model = RetentionPolicy
        fields = [
            "id",
            "name",
            "framework",
            "description",
            "agent_pattern",
            "action_pattern",
            "result_pattern",
            "keep_days",
            "status",
            "floor",
            "created_at",
        ]

    def get_floor(self, policy: RetentionPolicy) -> dict | None:
        floor = floors().get(policy.framework)
        return None if floor is None else {"days": floor.days, "source": floor.source}


class PolicyInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    framework = serializers.ChoiceField(choices=Framework.choices)
    description = StrictCharField(required=False, allow_blank=True, default="")
    agent_pattern = StrictCharField(max_length=200, default="*")
    action_pattern = StrictCharField(max_length=200, default="*")
    result_pattern = StrictCharField(max_length=200, default="*")
    keep_days = serializers.IntegerField(min_value=1, max_value=MAX_KEEP_DAYS)
    reason = StrictCharField(required=False, allow_blank=True, default="")


class PolicyChangeInput(serializers.Serializer):
    keep_days = serializers.IntegerField(min_value=1, max_value=MAX_KEEP_DAYS, required=False)
    agent_pattern = StrictCharField(max_length=200, required=False)
    action_pattern = StrictCharField(max_length=200, required=False)
    result_pattern = StrictCharField(max_length=200, required=False)
    description = StrictCharField(required=False, allow_blank=True)
    delete = serializers.BooleanField(default=False)
    reason = StrictCharField(allow_blank=True, default="")


class ChangeSerializer(serializers.ModelSerializer):
    requested_by = username_of("requested_by")
    decided_by = username_of("decided_by")

    class Meta:
        model = PolicyChange
        fields = [
            "id",
            "policy",
            "kind",
            "proposed",
            "reason",
            "status",
            "requested_by",
            "requested_at",
            "decided_by",
            "decided_at",
        ]


class HoldSerializer(serializers.ModelSerializer):
    placed_by = username_of("placed_by")
    released_by = username_of("released_by")
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = LegalHold
        fields = [
            "id",
            "name",
            "reason",
            "agents",
            "user_ids",
            "subject_keys",
            "streams",
            "ts_from",
            "ts_to",
            "active",
            "placed_by",
            "placed_at",
            "released_by",
            "released_at",
            "release_reason",
        ]


class HoldInput(serializers.Serializer):
    name = StrictCharField(max_length=200)
    reason = StrictCharField()
    agents = serializers.ListField(child=StrictCharField(max_length=200), default=list)
    user_ids = serializers.ListField(child=StrictCharField(max_length=200), default=list)
    subject_keys = serializers.ListField(
        child=serializers.RegexField(r"^[0-9a-fA-F]{16,128}$"), default=list
    )
    # Identifiers (e-mail addresses, user ids): held by their subject keys, stored nowhere.
    subjects = serializers.ListField(
        child=StrictCharField(max_length=320), default=list, write_only=True
    )
    streams = serializers.ListField(child=StrictCharField(max_length=200), default=list)
    ts_from = serializers.DateTimeField(required=False, allow_null=True, default=None)
    ts_to = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReasonInput(serializers.Serializer):
    reason = StrictCharField(allow_blank=True, default="")


class PlanSerializer(serializers.ModelSerializer):
    created_by = username_of("created_by")
    approved_by = username_of("approved_by")

    class Meta:
        model = RetentionPlan
        fields = [
            "id",
            "as_of",
            "status",
            "note",
            "created_by",
            "created_at",
            "approved_by",
            "approved_at",
            "items",
            "report",
        ]


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = RetentionRun
        fields = [
            "id",
            "plan",
            "status",
            "via",
            "started_at",
            "finished_at",
            "pruned",
            "anchors",
            "progress",
            "skipped",
            "error",
        ]
