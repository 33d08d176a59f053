"""The architecture page names real code: each `agents_sdk.…`, `obsportal.…` name resolves."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"
# A dotted name in backticks: `obsportal.ingest.services.admit_batch`, `agents_sdk.hooks.Step`.
NAME = re.compile(r"`((?:agents_sdk|obsportal)(?:\.[A-Za-z_][A-Za-z0-9_]*)+)`")


def named_in(page: Path) -> list[str]:
    return sorted(set(NAME.findall(page.read_text())))


def resolve(name: str) -> object:
    """Import the longest module prefix of `name`, then walk the rest as attributes."""
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError as exc:
            if exc.name is not None and not ".".join(parts[:split]).startswith(exc.name):
                raise  # a real import error inside the module, not "no such module"
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ModuleNotFoundError(name)


def test_the_page_names_the_path_of_one_event():
    names = named_in(PAGE)
    assert len(names) >= 30, names
    for hop in ("record_audit", "JournalWriter.append", "Shipper", "ingest_batch", "admit_batch"):
        assert any(name.endswith(hop) for name in names), hop


@pytest.mark.parametrize("name", named_in(PAGE))
def test_every_name_on_the_architecture_page_imports(name):
    try:
        resolve(name)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"docs/architecture.md names {name}, which does not resolve: {exc}")
