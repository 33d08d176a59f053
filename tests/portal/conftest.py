"""Fixtures: events and chains admitted through ingestion, for the pages to show."""

from tests.support.chains import stored, two_chains  # noqa: F401
from tests.support.incidents import incidents_made  # noqa: F401, E402
from tests.support.people import clients  # noqa: F401, E402
from tests.support.searchable import auditor, officer, searchable  # noqa: F401
