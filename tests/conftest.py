"""Shared fixtures live in tests/fixtures/ as plugins, one module per real server the tests start."""

import pytest

pytest_plugins = [
    "tests.fixtures.local_endpoint",
    "tests.fixtures.deployments",
    "tests.fixtures.fault_server",
    "tests.fixtures.app_server",
    "tests.fixtures.counting_server",
    "tests.fixtures.otlp_receiver",
    "tests.fixtures.image_server",
    "tests.fixtures.postgres",
    "tests.fixtures.oidc_provider",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: the quick checks report first, and a slow browser never holds them up."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test keeps saved conversations, learned refusals and caches in a temp directory, never the checkout's."""
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path_factory.mktemp("data")))
