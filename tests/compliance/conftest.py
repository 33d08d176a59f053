from tests.support.chains import two_chains  # noqa: F401
from tests.support.people import clients, two_agents  # noqa: F401
