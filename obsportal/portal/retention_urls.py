from django.urls import path

from obsportal.portal import retention

app_name = "retention"
urlpatterns = [
    path("", retention.overview, name="overview"),
    path("policies/", retention.policy_request, name="policy-request"),
    path("policies/<int:pk>/change/", retention.policy_change, name="policy-change"),
    path("holds/", retention.hold_place, name="hold-place"),
    path("holds/<int:pk>/release/", retention.hold_release, name="hold-release"),
    path("plans/", retention.plan_propose, name="plan-propose"),
    path("plans/<int:pk>/", retention.plan_detail, name="plan"),
    *(
        path(
            f"changes/<int:pk>/{d}/", retention.change_decision, {"decision": d}, name=f"change-{d}"
        )
        for d in ("approve", "reject")
    ),
    *(
        path(f"plans/<int:pk>/{d}/", retention.plan_decision, {"decision": d}, name=f"plan-{d}")
        for d in ("approve", "reject")
    ),
]
