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


# Browser test modules the second worker takes once it is through the rest (about 30% of the browser tests' time,
# measured serially). The others run in order on one worker from the start.
_BROWSER_TAIL = frozenset(
    f"tests/e2e/{name}.py"
    for name in (
        "test_capability_table_fits_browser",
        "test_chat_failed_browser",
        "test_chat_stop_early",
        "test_chat_tools_browser",
        "test_cut_tool_call_browser",
        "test_images_e2e",
        "test_leaderboard_browser",
        "test_models_e2e",
        "test_presenter_backstage_browser",
        "test_presenter_browser",
        "test_prompts_browser",
        "test_traces_browser",
        "test_untrusted_markdown_browser",
        "test_uploads_survive_browser",
    )
)


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last: the quick checks report first, and a slow browser never holds them up.

    Under pytest-xdist the order is the work queue's (see below): the browser tests' main group, the other modules,
    then the browser tail."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
        return

    def place(item: pytest.Item) -> int:
        if item.get_closest_marker("e2e") is None:
            return 1
        return 2 if _module(item.nodeid) in _BROWSER_TAIL else 0

    items.sort(key=place)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (`make test` runs `pytest -n 2`) each module goes whole to one worker. Most
    browser tests form one group that one worker runs in order from the start, while the other takes every other
    module and then the browser tail (`_BROWSER_TAIL`). A browser test leaves much of a core idle (it waits on the
    app), so the AppTest and service tests fit beside it; browser tests on both workers all along only slowed each
    other down.

    (xdist's own `--dist loadgroup` cannot do this under pytest 9: it renames items through an attribute pytest no
    longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # keep the queue in the order pytest_collection_modifyitems made

    class BrowserTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            if module.startswith("tests/e2e/") and module not in _BROWSER_TAIL:
                return "browser"
            return module

    return BrowserTestsTogether(config, log)


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test keeps saved conversations, learned refusals and caches in a temp directory, never the checkout's."""
    monkeypatch.setenv("PLAYGROUND_DATA_DIR", str(tmp_path_factory.mktemp("data")))
