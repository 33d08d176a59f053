from tests.support.people import clients, two_agents  # noqa: F401 - shared fixtures
