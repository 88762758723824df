"""Shared fixtures live in tests/fixtures/ as plugins, one module per real server the tests start."""

pytest_plugins = [
    "tests.fixtures.local_endpoint",
    "tests.fixtures.deployments",
    "tests.fixtures.fault_server",
    "tests.fixtures.app_server",
]
