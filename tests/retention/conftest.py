"""Fixtures: real chains admitted through ingestion (tests/support/chains.py), and the
offline verifier's sandbox (tests/sdk/offline)."""

from tests.sdk.offline.test_evidence_bundle import offline_site  # noqa: F401
from tests.support.chains import stored, two_chains  # noqa: F401
