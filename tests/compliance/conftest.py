from tests.support.chains import two_chains  # noqa: F401
