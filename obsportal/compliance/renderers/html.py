"""The report as HTML: the page in the portal, and the source of the PDF."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string


def render_html(document: dict[str, Any], *, for_pdf: bool = False) -> str:
    return render_to_string("reports/document.html", {"doc": document, "for_pdf": for_pdf})
