"""Shared fixtures live in tests/fixtures/ as plugins, one module per real server the tests start."""

import os
from typing import Any

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
    """Browser tests run last: the quick checks report first, and a slow browser never holds them up.

    Under pytest-xdist they come first instead: their worker starts on them at once (see below)."""
    browser_first = bool(os.environ.get("PYTEST_XDIST_WORKER"))
    items.sort(key=lambda item: (item.get_closest_marker("e2e") is not None) != browser_first)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`make test` runs two workers): each module goes whole to one worker, and the browser
    tests all to the same one, in order, while the other worker takes the rest. A browser test leaves much of a core
    idle (it waits on the app): browser tests on both workers only slowed each other down on 2 cores.

    (xdist's own `--dist loadgroup` cannot do this under pytest 9: it renames items through an attribute pytest no
    longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the browser tests' group first in the queue

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "browser" if module.startswith("tests/e2e/") else module

    return BrowserTestsTogether(config, log)


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test keeps saved conversations, learned refusals and caches in a temp directory, never the checkout's."""
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path_factory.mktemp("data")))
