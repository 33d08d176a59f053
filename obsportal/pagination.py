"""Cursor pagination that refuses, with a sentence, what it did not give out.

DRF decodes a cursor's position and hands it straight to the query: an altered one
(`p=notadate`, an id past bigint) reached the database and answered 500. Here the
position is cleaned by the ordering field first, and `page_size` must be a whole
number in range instead of silently falling back to the default.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

INVALID_CURSOR = "The cursor is not one this API gave out: it was altered or cut short."


class CheckedCursorPagination(CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = 1000
    invalid_cursor_message = INVALID_CURSOR

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        ordering = self.ordering if isinstance(self.ordering, list | tuple) else [self.ordering]
        field = self._model._meta.get_field(ordering[0].lstrip("-"))
        if "\x00" in cursor.position:
            raise NotFound(self.invalid_cursor_message)
        try:
            value = field.clean(cursor.position, None)
            if isinstance(value, datetime):
                value.astimezone(UTC)
        except (DjangoValidationError, ValueError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {
                    self.page_size_query_param: [
                        f"page_size must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(raw)
