"""Real test-side services (receivers) shared by the test suites."""
