"""Fixtures: real chains admitted through ingestion (tests/support/chains.py)."""

from tests.support.chains import stored, two_chains  # noqa: F401
