"""Fixtures: real chains admitted through ingestion, a checkpoint signed over them."""

from tests.support.chains import signed_chains, two_chains  # noqa: F401
from tests.support.incidents import incidents_made  # noqa: F401
from tests.support.people import clients  # noqa: F401
