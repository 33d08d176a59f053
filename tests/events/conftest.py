"""Fixtures: events admitted through ingestion, for the read side to find."""

from tests.support.chains import stored  # noqa: F401
from tests.support.searchable import auditor, officer, searchable  # noqa: F401, E402
