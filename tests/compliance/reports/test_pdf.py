"""The PDF is PDF/A-3b (XMP identification read back with pypdf; veraPDF is not installable
here), carries report.json and every population CSV as attachments, and renders (pdftoppm)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
from pypdf import PdfReader

from tests.compliance.reports.conftest import build


@pytest.fixture
def with_pdf(world, settings):
    settings.OBSPORTAL_REPORT_PDF = True
    return build(world, "soc2")


def test_the_pdf_is_pdf_a_3b_with_the_data_attached(with_pdf):
    folder = with_pdf.folder
    reader = PdfReader(folder / "report.pdf")
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode()
    assert re.search(r'pdfaid:part(="|>)3', raw) and re.search(r'pdfaid:conformance(="|>)B', raw)
    # PDF/A wants an output intent (the colour profile) in the catalog.
    assert "/OutputIntents" in reader.trailer["/Root"]
    attached = {name: data[0] for name, data in reader.attachments.items()}
    expected = {"report.json", *(f for f in with_pdf.run.files if f.endswith(".csv"))}
    assert set(attached) == expected
    for name, data in attached.items():
        assert data == (folder / name).read_bytes(), name
    # PDF/A-3 wants each embedded file tied to the document with an AFRelationship.
    names = reader.trailer["/Root"]["/Names"]["/EmbeddedFiles"]["/Names"]
    specs = [names[i + 1].get_object() for i in range(0, len(names), 2)]
    assert all("/AFRelationship" in spec for spec in specs)
    text = "".join(page.extract_text() for page in reader.pages[:2])
    assert "SOC 2 Type II report" in text and "Chain coverage of the period" in text
    if os.environ.get("REPORT_PDF_OUT"):
        shutil.copy(folder / "report.pdf", os.environ["REPORT_PDF_OUT"])


def test_verify_report_reads_the_pdfs_attachments(with_pdf, signing_key):
    pdf = str(with_pdf.folder / "report.pdf")
    command = [sys.executable, "-m", "agents_sdk", "verify-report", pdf]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": ""}
    result = subprocess.run(
        [*command, "--key", signing_key.verifier_key],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils not installed")
def test_the_pdf_renders_to_images(with_pdf, tmp_path):
    pdf, pages = str(with_pdf.folder / "report.pdf"), str(tmp_path / "page")
    command = ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "2", pdf, pages]
    subprocess.run(command, check=True, timeout=120)
    assert sorted(p.name for p in tmp_path.glob("page-*.png"))
