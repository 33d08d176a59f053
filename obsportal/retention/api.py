"""REST API of retention: policies and their four-eyes changes, legal holds, the dry run,
plans and runs. Views only validate and serialize; the services decide."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from obsportal.accounts.duties import ApprovalRefused
from obsportal.accounts.roles import Capability
from obsportal.pagination import CheckedCursorPagination
from obsportal.retention.floors import BelowStatutoryFloor, floors
from obsportal.retention.models import (
    LegalHold,
    PolicyChange,
    RetentionPlan,
    RetentionPolicy,
    RetentionRun,
)
from obsportal.retention.serializers import (
    ChangeSerializer,
    HoldInput,
    HoldSerializer,
    PlanSerializer,
    PolicyChangeInput,
    PolicyInput,
    PolicySerializer,
    ReasonInput,
    RunSerializer,
)
from obsportal.retention.services import legal_holds, plans, policies
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


def decided(request, decision: str, target: Any, approve: Callable, reject: Callable) -> Any:
    """A four-eyes decision: approve, or reject with the request's reason."""
    if decision == "approve":
        return refused(approve, request.user, target)
    reason = ReasonInput(data=request.data)
    reason.is_valid(raise_exception=True)
    return refused(reject, request.user, target, **reason.validated_data)


def decision_paths(route: str, view: type[APIView], name: str) -> list:
    """`<route>approve/` and `<route>reject/`, each passing its decision to the view."""
    return [
        path(f"{route}{d}/", view.as_view(), {"decision": d}, name=f"{name}-{d}")
        for d in ("approve", "reject")
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
        change = decided(
            request, decision, change, policies.approve_policy_change, policies.reject_policy_change
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
        plan = decided(request, decision, plan, plans.approve_plan, plans.reject_plan)
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
    *decision_paths("retention/changes/<int:pk>/", ChangeDecision, "retention-change"),
    path("retention/holds/", HoldList.as_view(), name="retention-holds"),
    path("retention/holds/<int:pk>/release/", HoldRelease.as_view(), name="retention-hold-release"),
    path("retention/dry-run/", DryRun.as_view(), name="retention-dry-run"),
    path("retention/plans/", PlanList.as_view(), name="retention-plans"),
    path("retention/plans/<int:pk>/", PlanDetail.as_view(), name="retention-plan"),
    *decision_paths("retention/plans/<int:pk>/", PlanDecision, "retention-plan"),
    path("retention/runs/", RunList.as_view(), name="retention-runs"),
    path("retention/floors/", FloorList.as_view(), name="retention-floors"),
]
