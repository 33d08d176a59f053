"""Fixtures: events admitted through ingestion, for the read side to find."""

from tests.support.chains import stored  # noqa: F401
