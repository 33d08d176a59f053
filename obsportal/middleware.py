"""Requests no stored value could answer, refused before any view sees them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

NUL_MESSAGE = (
    "The request holds a NUL character (U+0000) in its path or query; no id, filter or "
    "date can contain one."
)


class RefuseNulMiddleware:
    """PostgreSQL text cannot hold U+0000: a NUL in an id or filter used to reach the
    query and answer 500. It answers 400, with the sentence, here."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info or any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponse(NUL_MESSAGE, status=400, content_type="text/plain")
        return self.get_response(request)
