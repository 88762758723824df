"""Requests that wait for a text model together run together, and each still gets exactly its own answer."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from local_endpoint.config import EndpointConfig
from local_endpoint.embed_batcher import EmbedBatcher, Embeddings
from local_endpoint.errors import QueueFull
from local_endpoint.slots import ModelSlot
from local_endpoint.text_embedder import MAX_BATCH_ROWS, TextEmbedder, load_text_embedder, plan_batches

WORDS = [
    "the",
    "river",
    "engine",
    "quietly",
    "of",
    "a",
    "cat",
    "bank",
    "rates",
    "sea",
    "boat",
    "weather",
    "small",
    "kitten",
    "rug",
    "mat",
]
POISON = "volcano"


def _texts(count: int, seed: int, low: int = 1, high: int = 60) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))) for _ in range(count)]


class FailingOnPoison(TextEmbedder):
    """The real embedder, except that a run holding the word POISON fails (as a model fault would)."""

    def run(self, encodings: list[Any]) -> Any:
        if any(POISON in e.tokens for e in encodings):
            raise RuntimeError("the model failed on this input")
        return super().run(encodings)


@pytest.fixture(scope="module")
def embedder() -> TextEmbedder:
    real = load_text_embedder(EndpointConfig.from_environ())
    real.__class__ = FailingOnPoison
    return real


def _with_slot(
    embedder: TextEmbedder, max_queue: int, scenario: Callable[[ModelSlot[TextEmbedder], EmbedBatcher], Awaitable[Any]]
) -> Any:
    async def main() -> Any:
        slot: ModelSlot[TextEmbedder] = ModelSlot("text", lambda: embedder, max_queue)
        slot.start_loading()
        await slot.model()
        try:
            return await scenario(slot, EmbedBatcher(slot))
        finally:
            slot.cancel_pending()

    return asyncio.run(main())


async def _queued_behind_a_busy_model(
    slot: ModelSlot[TextEmbedder], batcher: EmbedBatcher, requests: list[list[Any]]
) -> list[asyncio.Task[Embeddings]]:
    """Start `requests` while the model is held, so that all of them queue; then free the model."""
    held = await slot.take_turn()
    tasks = [asyncio.ensure_future(batcher.embed(encodings)) for encodings in requests]
    for _ in range(5):
        await asyncio.sleep(0)
    held.release_unless_handed_over()
    return tasks


def test_plan_covers_every_text_once_sorted_and_keeps_equal_lengths_together() -> None:
    rng = random.Random(3)
    lengths = [rng.randint(3, 130) for _ in range(500)]
    batches = plan_batches(lengths)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(500))
    assert [lengths[i] for i in flat] == sorted(lengths)
    assert all(0 < len(batch) <= MAX_BATCH_ROWS for batch in batches)
    # Equal lengths cost nothing to pad: they fill whole batches.
    assert [len(b) for b in plan_batches([20] * (2 * MAX_BATCH_ROWS))] == [MAX_BATCH_ROWS, MAX_BATCH_ROWS]
    # A far longer text is not padded into the short ones' batch.
    assert plan_batches([5] * 10 + [120]) == [list(range(10)), [10]]


def test_padding_of_the_plan_is_far_below_fixed_batches_of_sixteen() -> None:
    rng = random.Random(5)
    lengths = [rng.randint(5, 120) for _ in range(64)]
    padded = sum(len(b) * max(lengths[i] for i in b) for b in plan_batches(lengths))
    ordered = sorted(lengths)
    fixed = sum(16 * max(ordered[s : s + 16]) for s in range(0, 64, 16))
    assert sum(lengths) <= padded < fixed


def test_queued_requests_run_together_and_each_gets_its_own_vectors_order_and_tokens(embedder: TextEmbedder) -> None:
    requests = [_texts(count, seed) for seed, count in enumerate([5, 1, 12, 7])]
    encodings = [embedder.tokenize(texts) for texts in requests]
    alone = [embedder.run(e) for e in encodings]

    async def scenario(slot: ModelSlot[TextEmbedder], batcher: EmbedBatcher) -> list[Embeddings]:
        return list(await asyncio.gather(*await _queued_behind_a_busy_model(slot, batcher, encodings)))

    results = _with_slot(embedder, 8, scenario)
    assert [r.run.requests for r in results] == [4, 4, 4, 4]
    assert results[0].run.texts == 25
    for result, own in zip(results, alone, strict=True):
        assert result.vectors.shape == own.vectors.shape
        assert np.allclose(result.vectors, own.vectors, atol=1e-5)
        assert result.tokens == own.tokens


def test_a_request_that_fails_does_not_fail_its_batch_mates(embedder: TextEmbedder) -> None:
    requests = [_texts(3, 1), [f"a text with a {POISON} inside"], _texts(4, 2)]
    encodings = [embedder.tokenize(texts) for texts in requests]

    async def scenario(slot: ModelSlot[TextEmbedder], batcher: EmbedBatcher) -> list[Any]:
        tasks = await _queued_behind_a_busy_model(slot, batcher, encodings)
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    first, poisoned, last = _with_slot(embedder, 8, scenario)
    assert isinstance(poisoned, RuntimeError)
    assert np.allclose(first.vectors, embedder.run(encodings[0]).vectors, atol=1e-5)
    assert np.allclose(last.vectors, embedder.run(encodings[2]).vectors, atol=1e-5)


def test_a_full_queue_refuses_and_a_request_that_leaves_frees_its_place(embedder: TextEmbedder) -> None:
    encodings = embedder.tokenize(["a cat sits on the mat"])

    async def scenario(slot: ModelSlot[TextEmbedder], batcher: EmbedBatcher) -> tuple[bool, Embeddings, int]:
        held = await slot.take_turn()
        leaving = asyncio.ensure_future(batcher.embed(encodings))
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull):
            await batcher.embed(encodings)
        leaving.cancel()  # the client disconnected while it waited
        await asyncio.sleep(0.01)
        staying = asyncio.ensure_future(batcher.embed(encodings))  # its place is free again
        await asyncio.sleep(0.01)
        held.release_unless_handed_over()
        done = await staying
        return leaving.cancelled(), done, done.run.requests

    left, done, together = _with_slot(embedder, 1, scenario)
    assert left and together == 1
    assert np.allclose(done.vectors, embedder.run(encodings).vectors, atol=1e-5)


def test_a_run_gathers_queued_requests_only_up_to_its_token_budget(embedder: TextEmbedder) -> None:
    encodings = [embedder.tokenize(_texts(4, seed, 20, 30)) for seed in range(6)]
    per_request = sum(len(e.ids) for e in encodings[0])

    async def scenario(slot: ModelSlot[TextEmbedder], _batcher: EmbedBatcher) -> list[Embeddings]:
        small = EmbedBatcher(slot, max_batch_tokens=int(per_request * 2.5))
        return list(await asyncio.gather(*await _queued_behind_a_busy_model(slot, small, encodings)))

    results = _with_slot(embedder, 8, scenario)
    assert all(r.run.requests <= 3 for r in results)
    assert sum(1 / r.run.requests for r in results) >= 2  # at least two runs
    for result, own in zip(results, encodings, strict=True):
        assert np.allclose(result.vectors, embedder.run(own).vectors, atol=1e-5)
