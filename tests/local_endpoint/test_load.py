"""A small load test: 50 chats and 200 embeddings at once against an endpoint with a queue of 2 per model."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bench.load_test import Outcomes, run_load


def _assert_all_answered_cleanly(name: str, outcome: Outcomes) -> None:
    assert outcome.answered == outcome.sent, f"{name}: {outcome.sent - outcome.answered} requests lost"
    assert outcome.counts["ok"] + outcome.counts["limited"] == outcome.sent, f"{name}: {outcome.problems[:3]}"
    # The queue holds 2 and the model serves one at a time: both outcomes must occur.
    assert outcome.counts["ok"] >= 1 and outcome.counts["limited"] >= 1, f"{name}: {outcome.summary()}"


@pytest.mark.timeout(120)
def test_concurrent_chats_and_embeddings_get_200_or_a_clean_429_and_none_is_lost(limited_endpoint_url: str) -> None:
    chat, embed, _wall = asyncio.run(run_load(limited_endpoint_url, chats=50, embeddings=200, timeout_s=90))
    _assert_all_answered_cleanly("chat", chat)
    _assert_all_answered_cleanly("embeddings", embed)
    assert all(seconds >= 1 for seconds in chat.retry_after_s + embed.retry_after_s)
    # The endpoint is still healthy and serves the next request.
    assert httpx.get(f"{limited_endpoint_url}/health", params={"ready": "1"}).status_code == 200


def test_load_goes_to_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(run_load("http://example.com", chats=1, embeddings=1))
