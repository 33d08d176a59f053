"""REST API of retention: policies and their four-eyes changes, legal holds, the dry run,
plans and runs. Views only validate and serialize; the services decide."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.duties import ApprovalRefused
from obsportal.accounts.roles import Capability
from obsportal.pagination import CheckedCursorPagination
from obsportal.retention.floors import BelowStatutoryFloor, floors
from obsportal.retention.models import (
    Framework,
    LegalHold,
    PolicyChange,
    RetentionPlan,
    RetentionPolicy,
    RetentionRun,
)
from obsportal.retention.services import legal_holds, plans, policies
from obsportal.retention.services.policies import MAX_KEEP_DAYS
from obsportal.retention.services.trail import RetentionRefused

READ, MANAGE, HOLDS = (
    Capability.RETENTION_READ,
    Capability.RETENTION_MANAGE,
    Capability.HOLDS_MANAGE,
)


class NewestFirst(CheckedCursorPagination):
    ordering = ("-id",)
    page_size = 100


def refused(call, *args: Any, **kwargs: Any) -> Any:
    """Run a service; a rule's refusal is a 400 saying which rule, a self-approval a 403."""
    try:
        return call(*args, **kwargs)
    except ApprovalRefused as exc:
        raise PermissionDenied(str(exc)) from exc
    except (RetentionRefused, BelowStatutoryFloor) as exc:
        raise ValidationError({"detail": str(exc)}) from exc


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
    name = serializers.CharField(max_length=200)
    framework = serializers.ChoiceField(choices=Framework.choices)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    agent_pattern = serializers.CharField(max_length=200, default="*")
    action_pattern = serializers.CharField(max_length=200, default="*")
    result_pattern = serializers.CharField(max_length=200, default="*")
    keep_days = serializers.IntegerField(min_value=1, max_value=MAX_KEEP_DAYS)
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class PolicyChangeInput(serializers.Serializer):
    keep_days = serializers.IntegerField(min_value=1, max_value=MAX_KEEP_DAYS, required=False)
    agent_pattern = serializers.CharField(max_length=200, required=False)
    action_pattern = serializers.CharField(max_length=200, required=False)
    result_pattern = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    delete = serializers.BooleanField(default=False)
    reason = serializers.CharField(allow_blank=True, default="")


class ChangeSerializer(serializers.ModelSerializer):
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True, read_only=True
    )
    decided_by = serializers.CharField(
        source="decided_by.username", default=None, allow_null=True, read_only=True
    )

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
    placed_by = serializers.CharField(
        source="placed_by.username", default=None, allow_null=True, read_only=True
    )
    released_by = serializers.CharField(
        source="released_by.username", default=None, allow_null=True, read_only=True
    )
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
    name = serializers.CharField(max_length=200)
    reason = serializers.CharField()
    agents = serializers.ListField(child=serializers.CharField(max_length=200), default=list)
    user_ids = serializers.ListField(child=serializers.CharField(max_length=200), default=list)
    subject_keys = serializers.ListField(
        child=serializers.RegexField(r"^[0-9a-fA-F]{16,128}$"), default=list
    )
    streams = serializers.ListField(child=serializers.CharField(max_length=200), default=list)
    ts_from = serializers.DateTimeField(required=False, allow_null=True, default=None)
    ts_to = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ReasonInput(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, default="")


class PlanSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(
        source="created_by.username", default=None, allow_null=True, read_only=True
    )
    approved_by = serializers.CharField(
        source="approved_by.username", default=None, allow_null=True, read_only=True
    )

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


class PolicyList(generics.ListCreateAPIView):
    """Policies (POST: request a new one; it takes effect once another person approves)."""

    parser_classes = [JSONParser]
    required_capability = {"GET": READ, "POST": MANAGE}
    queryset = RetentionPolicy.objects.all()
    serializer_class = PolicySerializer
    pagination_class = NewestFirst

    @extend_schema(request=PolicyInput, responses={201: ChangeSerializer})
    def post(self, request):
        data = PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason = values.pop("reason")
        change = refused(policies.request_policy, request.user, reason=reason, **values)
        return Response(ChangeSerializer(change).data, status=201)


class PolicyDetail(generics.RetrieveAPIView):
    """A policy (POST: request a change; lengthening applies at once, the rest waits for a
    second person; `delete: true` requests its deletion)."""

    parser_classes = [JSONParser]
    required_capability = {"GET": READ, "POST": MANAGE}
    queryset = RetentionPolicy.objects.all()
    serializer_class = PolicySerializer

    @extend_schema(
        operation_id="retention_policies_change",
        request=PolicyChangeInput,
        responses={201: ChangeSerializer},
    )
    def post(self, request, pk: int):
        policy = get_object_or_404(RetentionPolicy, pk=pk)
        data = PolicyChangeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        reason, delete = values.pop("reason"), values.pop("delete")
        if delete:
            change = refused(policies.request_policy_deletion, request.user, policy, reason=reason)
        else:
            change = refused(
                policies.request_policy_change, request.user, policy, reason=reason, **values
            )
        return Response(ChangeSerializer(change).data, status=201)


class ChangeList(generics.ListAPIView):
    """Requested policy changes, newest first."""

    required_capability = READ
    queryset = PolicyChange.objects.select_related("requested_by", "decided_by")
    serializer_class = ChangeSerializer
    pagination_class = NewestFirst


class ChangeDecision(APIView):
    """Approve or reject a pending policy change: never by the person who requested it."""

    parser_classes = [JSONParser]
    required_capability = MANAGE

    @extend_schema(request=ReasonInput, responses={200: ChangeSerializer})
    def post(self, request, pk: int, decision: str):
        change = get_object_or_404(PolicyChange, pk=pk)
        if decision == "approve":
            change = refused(policies.approve_policy_change, request.user, change)
        else:
            reason = ReasonInput(data=request.data)
            reason.is_valid(raise_exception=True)
            change = refused(
                policies.reject_policy_change, request.user, change, **reason.validated_data
            )
        return Response(ChangeSerializer(change).data)


class HoldList(generics.ListCreateAPIView):
    """Legal holds (POST: place one; it takes effect at once)."""

    parser_classes = [JSONParser]
    required_capability = {"GET": READ, "POST": HOLDS}
    queryset = LegalHold.objects.select_related("placed_by", "released_by")
    serializer_class = HoldSerializer
    pagination_class = NewestFirst

    @extend_schema(request=HoldInput, responses={201: HoldSerializer})
    def post(self, request):
        data = HoldInput(data=request.data)
        data.is_valid(raise_exception=True)
        hold = refused(legal_holds.place_legal_hold, request.user, **data.validated_data)
        return Response(HoldSerializer(hold).data, status=201)


class HoldRelease(APIView):
    parser_classes = [JSONParser]
    required_capability = HOLDS

    @extend_schema(request=ReasonInput, responses={200: HoldSerializer})
    def post(self, request, pk: int):
        hold = get_object_or_404(LegalHold, pk=pk)
        reason = ReasonInput(data=request.data)
        reason.is_valid(raise_exception=True)
        hold = refused(legal_holds.release_legal_hold, request.user, hold, **reason.validated_data)
        return Response(HoldSerializer(hold).data)


class DryRun(APIView):
    """What a run now would remove, per policy, and what each legal hold keeps."""

    required_capability = READ

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(plans.dry_run())


class PlanList(generics.ListCreateAPIView):
    """Plans, newest first (POST: freeze the dry run now as a plan for another to approve)."""

    parser_classes = [JSONParser]
    required_capability = {"GET": READ, "POST": MANAGE}
    queryset = RetentionPlan.objects.select_related("created_by", "approved_by")
    serializer_class = PlanSerializer
    pagination_class = NewestFirst

    @extend_schema(request=ReasonInput, responses={201: PlanSerializer})
    def post(self, request):
        note = ReasonInput(data=request.data)
        note.is_valid(raise_exception=True)
        plan = refused(plans.propose_plan, request.user, note=note.validated_data["reason"])
        return Response(PlanSerializer(plan).data, status=201)


class PlanDetail(generics.RetrieveAPIView):
    required_capability = READ
    queryset = RetentionPlan.objects.all()
    serializer_class = PlanSerializer


class PlanDecision(APIView):
    """Approve (four eyes: not its author) or reject a proposed plan."""

    parser_classes = [JSONParser]
    required_capability = MANAGE

    @extend_schema(request=ReasonInput, responses={200: PlanSerializer})
    def post(self, request, pk: int, decision: str):
        plan = get_object_or_404(RetentionPlan, pk=pk)
        if decision == "approve":
            plan = refused(plans.approve_plan, request.user, plan)
        else:
            reason = ReasonInput(data=request.data)
            reason.is_valid(raise_exception=True)
            plan = refused(plans.reject_plan, request.user, plan, **reason.validated_data)
        return Response(PlanSerializer(plan).data)


class RunList(generics.ListAPIView):
    """Retention runs, newest first: what each pruned and what holds kept."""

    required_capability = READ
    queryset = RetentionRun.objects.all()
    serializer_class = RunSerializer
    pagination_class = NewestFirst


class FloorList(APIView):
    """The statutory floors in force, by framework, with their source."""

    required_capability = READ

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        return Response(
            {f.framework: {"days": f.days, "source": f.source} for f in floors().values()}
        )


urlpatterns = [
    path("retention/policies/", PolicyList.as_view(), name="retention-policies"),
    path("retention/policies/<int:pk>/", PolicyDetail.as_view(), name="retention-policy"),
    path("retention/changes/", ChangeList.as_view(), name="retention-changes"),
    *(
        path(
            f"retention/changes/<int:pk>/{decision}/",
            ChangeDecision.as_view(),
            {"decision": decision},
            name=f"retention-change-{decision}",
        )
        for decision in ("approve", "reject")
    ),
    path("retention/holds/", HoldList.as_view(), name="retention-holds"),
    path("retention/holds/<int:pk>/release/", HoldRelease.as_view(), name="retention-hold-release"),
    path("retention/dry-run/", DryRun.as_view(), name="retention-dry-run"),
    path("retention/plans/", PlanList.as_view(), name="retention-plans"),
    path("retention/plans/<int:pk>/", PlanDetail.as_view(), name="retention-plan"),
    *(
        path(
            f"retention/plans/<int:pk>/{decision}/",
            PlanDecision.as_view(),
            {"decision": decision},
            name=f"retention-plan-{decision}",
        )
        for decision in ("approve", "reject")
    ),
    path("retention/runs/", RunList.as_view(), name="retention-runs"),
    path("retention/floors/", FloorList.as_view(), name="retention-floors"),
]
