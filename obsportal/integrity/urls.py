from django.urls import path

from obsportal.integrity import api, views

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
    path("checkpoints/public-key/", api.PublicKey.as_view(), name="checkpoint-key"),
    path(
        "checkpoints/public-key.pem",
        api.PublicKey.as_view(),
        {"pem": True},
        name="checkpoint-key-pem",
    ),
    path("checkpoints/<int:pk>/", api.CheckpointDetail.as_view(), name="checkpoint-detail"),
    path("checkpoints/<int:pk>/note", api.CheckpointNote.as_view(), name="checkpoint-note"),
    path(
        "checkpoints/<int:pk>/proofs/<str:stream_id>/",
        api.InclusionProof.as_view(),
        name="checkpoint-proof",
    ),
    path("evidence/", api.EvidenceBundle.as_view(), name="evidence-bundle"),
]
