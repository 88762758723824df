"""Extra embedded endpoints for the behaviours the shared open one must not have (key, short queue, broken models)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.local_endpoint import run_local_endpoint

API = "api-version=2024-05-01-preview"
STRICT_KEY = "local-test-key-0123456789"


@pytest.fixture(scope="module")
def strict_endpoint_url() -> Iterator[str]:
    """An endpoint that needs STRICT_KEY, blocks 'paris' on top of the defaults and lets one request wait per model."""
    env = {
        "LOCAL_ENDPOINT_KEY": STRICT_KEY,
        "LOCAL_ENDPOINT_BLOCKLIST": "paris, some other term",
        "LOCAL_ENDPOINT_MAX_QUEUE": "1",
    }
    with run_local_endpoint(env) as url:
        yield url


@pytest.fixture(scope="module")
def broken_endpoint_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An endpoint whose chat and text models point at files that do not exist."""
    missing = tmp_path_factory.mktemp("missing") / "nothing-here.gguf"
    env = {"LOCAL_ENDPOINT_CHAT_MODEL": str(missing), "LOCAL_ENDPOINT_TEXT_MODEL": str(missing)}
    with run_local_endpoint(env) as url:
        yield url


# Small request limits, a short queue and a short context, so tests can pass each limit with little traffic.
LIMITED_ENV = {
    "LOCAL_ENDPOINT_MAX_BODY_MB": "1",
    "LOCAL_ENDPOINT_MAX_MESSAGES": "8",
    "LOCAL_ENDPOINT_MAX_INPUTS": "16",
    "LOCAL_ENDPOINT_MAX_EMBEDDING_TOKENS": "100",
    "LOCAL_ENDPOINT_MAX_QUEUE": "2",
    "LOCAL_ENDPOINT_CHAT_CONTEXT": "512",
}


@pytest.fixture(scope="session")
def limited_endpoint_url() -> Iterator[str]:
    """An open endpoint with LIMITED_ENV (shared by the limit and load tests)."""
    with run_local_endpoint(LIMITED_ENV) as url:
        yield url
