from django.urls import path

from obsportal.integrity import api, evidence_api, views

app_name = "integrity"
urlpatterns = [
    path("", views.stream_list, name="streams"),
    path("evidence/", views.evidence_export, name="evidence"),
    path("<str:stream_id>/", views.stream_detail, name="stream"),
]

api_urlpatterns = [
    path("streams/", api.StreamList.as_view(), name="stream-list"),
    path("streams/<str:stream_id>/", api.StreamDetail.as_view(), name="stream-detail"),
    path(
        "streams/<str:stream_id>/verifications/",
        api.StreamVerificationList.as_view(),
        name="stream-verifications",
    ),
    path("checkpoints/", api.CheckpointList.as_view(), name="checkpoint-list"),
    path(
        "checkpoints/incidents/",
        api.CheckpointIncidentList.as_view(),
        name="checkpoint-incidents",
    ),
    path("verifications/", api.VerificationRunList.as_view(), name="verification-list"),
    path("verifications/latest/", api.LatestVerificationRun.as_view(), name="verification-latest"),
    path("checkpoints/public-key/", api.PublicKey.as_view(), name="checkpoint-key"),
    path(
        "checkpoints/public-key.pem",
        api.PublicKey.as_view(),
        {"pem": True},
        name="checkpoint-key-pem",
    ),
    path("checkpoints/<int:number>/", api.CheckpointDetail.as_view(), name="checkpoint-detail"),
    path("checkpoints/<int:number>/note", api.CheckpointNote.as_view(), name="checkpoint-note"),
    path(
        "checkpoints/<int:number>/proofs/<str:stream_id>/",
        api.InclusionProof.as_view(),
        name="checkpoint-proof",
    ),
    path("evidence/", evidence_api.EvidenceBundle.as_view(), name="evidence-bundle"),
    path("evidence/exports/", evidence_api.EvidenceExports.as_view(), name="evidence-exports"),
    path(
        "evidence/exports/<int:pk>/",
        evidence_api.EvidenceExportDetail.as_view(),
        name="evidence-export",
    ),
    path(
        "evidence/exports/<int:pk>/download",
        evidence_api.EvidenceExportDownload.as_view(),
        name="evidence-export-download",
    ),
]
