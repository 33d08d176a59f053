"""The report as PDF/A-3b (WeasyPrint), with report.json and every population CSV attached.

The PDF holds summaries and samples; full populations travel as its attachments (a PDF of
millions of table rows would take hours and gigabytes, Kozea/WeasyPrint#1950).
"""

from __future__ import annotations

from pathlib import Path


def write_pdf(html: str, target: Path, attachments: list[Path], title: str) -> None:
    from weasyprint import HTML, Attachment  # imported late: Pango loads with it

    files = [
        Attachment(filename=str(path), name=path.name, description=path.name)
        for path in attachments
    ]
    HTML(string=html, base_url=str(target.parent)).write_pdf(
        target, pdf_variant="pdf/a-3b", attachments=files, uncompressed_pdf=False
    )
