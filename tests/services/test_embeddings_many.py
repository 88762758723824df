"""embed_many against real HTTP servers on loopback: the toy server (timing and faults) and the embedded endpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from services.client import InferenceClient
from services.config import Deployment
from services.embeddings import embed_many, retry_missing
from services.errors import InvalidRequestError, ModalityNotSupportedError
from services.store.embeddings import EmbeddingCache, cache_namespace
from services.store.location import data_dir
from tests.services.test_embeddings_server import REJECT_MARKER, ToyServer, run_toy_server, toy_vector

TEXTS = [f"sentence number {i} about topic {i % 5}" for i in range(23)]


@pytest.fixture
def toy() -> Iterator[ToyServer]:
    with run_toy_server(dims=32) as server:
        yield server


def toy_client(server: ToyServer, name: str = "toy") -> InferenceClient:
    # No client-level retries, so embed_many's own retries are what the tests observe.
    return InferenceClient(Deployment(name=name, endpoint=f"{server.url}/{name}", max_retries=0))


@pytest.fixture
def cache(database_url: str) -> Iterator[EmbeddingCache]:
    """The cache on each engine (PLAYGROUND_DATABASE_URL as `database_url` set it)."""
    store = EmbeddingCache()
    yield store
    store.close()


def test_vectors_come_back_in_input_order_across_parallel_batches(toy: ToyServer) -> None:
    toy.state.delay_s = 0.02
    result = embed_many(toy_client(toy), TEXTS, batch_size=3, concurrency=4)
    assert result.vectors.shape == (23, 32)
    assert result.vectors.dtype == np.float32
    assert result.complete and result.failures == []
    expected = np.vstack([toy_vector(text, 32) for text in TEXTS])
    assert np.allclose(result.vectors, expected, atol=1e-6)
    assert np.asarray(result).shape == (23, 32)
    assert sorted(toy.state.batch_sizes) == [2] + [3] * 7


def test_concurrency_sends_batches_in_parallel_up_to_the_limit(toy: ToyServer) -> None:
    toy.state.delay_s = 0.15
    started = time.perf_counter()
    embed_many(toy_client(toy), TEXTS[:16], batch_size=2, concurrency=4)
    parallel = time.perf_counter() - started
    assert toy.state.max_in_flight == 4
    # 8 batches of 0.15 s: about 0.3 s four at a time versus 1.2 s one at a time.
    assert parallel < 0.8


def test_progress_reports_every_text_and_ends_at_the_total(toy: ToyServer) -> None:
    seen: list[tuple[int, int]] = []
    embed_many(toy_client(toy), TEXTS, batch_size=5, concurrency=2, on_progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 23)
    assert seen[-1] == (23, 23)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cache_hits_skip_the_network_and_options_key_the_cache(toy: ToyServer, cache: EmbeddingCache) -> None:
    client = toy_client(toy)
    first = embed_many(client, TEXTS, batch_size=8, cache=cache)
    sent = toy.state.requests
    second = embed_many(client, TEXTS, batch_size=8, cache=cache)
    assert toy.state.requests == sent
    assert second.from_cache == 23 and second.requests == 0
    assert np.array_equal(first.vectors, second.vectors)
    # Other options are another cache entry: the 16-dimension vectors must come from the server.
    smaller = embed_many(client, TEXTS, batch_size=8, cache=cache, dimensions=16)
    assert smaller.dims == 16 and smaller.from_cache == 0
    assert toy.state.requests > sent
    # A text added later is the only one sent.
    before = toy.state.texts_received
    embed_many(client, [*TEXTS, "one new sentence"], batch_size=8, cache=cache)
    assert toy.state.texts_received == before + 1


def test_cache_namespace_depends_on_deployment_and_params_but_never_on_the_key() -> None:
    plain = Deployment(name="a", endpoint="http://127.0.0.1:1/a")
    keyed = Deployment(name="a", endpoint="http://127.0.0.1:1/a", key="secret-one")
    other = Deployment(name="b", endpoint="http://127.0.0.1:1/b")
    assert cache_namespace(plain, {}) == cache_namespace(keyed, {})
    assert cache_namespace(plain, {}) != cache_namespace(other, {})
    assert cache_namespace(plain, {"input_type": "query"}) != cache_namespace(plain, {"input_type": "document"})
    assert cache_namespace(plain, {"dimensions": None}) == cache_namespace(plain, {})


def test_data_dir_defaults_to_repo_dot_data_and_follows_the_environment(tmp_path: Path) -> None:
    assert data_dir({}).name == ".data"
    assert data_dir({"PLAYGROUND_DATA_DIR": str(tmp_path)}) == tmp_path


def test_cache_in_an_unwritable_place_degrades_to_no_cache(toy: ToyServer, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    broken = EmbeddingCache(blocker / "cache.sqlite")
    result = embed_many(toy_client(toy), TEXTS[:4], cache=broken)
    assert result.complete
    assert broken.count() == 0


def test_identical_texts_are_sent_once(toy: ToyServer) -> None:
    texts = ["same words", "other words", "same words", "same words"]
    result = embed_many(toy_client(toy), texts, batch_size=10)
    assert toy.state.texts_received == 2
    assert np.array_equal(result.vectors[0], result.vectors[2])
    assert result.complete


def test_failed_batch_is_retried_until_it_succeeds(toy: ToyServer) -> None:
    toy.state.fail_first = 2
    result = embed_many(toy_client(toy), TEXTS[:4], batch_size=4, retries=2, retry_delay=0.01)
    assert result.complete
    assert toy.state.requests == 3


def test_batch_failing_after_retries_keeps_successful_rows_and_reports_the_rest(toy: ToyServer) -> None:
    toy.state.fail_first = 1
    result = embed_many(toy_client(toy), TEXTS[:8], batch_size=4, concurrency=1, retries=0)
    assert result.failed_indices == [0, 1, 2, 3]
    assert result.embedded.tolist() == [False] * 4 + [True] * 4
    assert np.isnan(result.vectors[:4]).all()
    assert np.allclose(result.vectors[4], toy_vector(TEXTS[4], 32))
    assert "warming up" in result.failures[0].message
    again = retry_missing(toy_client(toy), TEXTS[:8], result, batch_size=4)
    assert again.complete and again.failures == []
    assert np.allclose(again.vectors[0], toy_vector(TEXTS[0], 32))
    assert np.array_equal(again.vectors[4:], result.vectors[4:])


def test_rejected_batch_is_split_until_only_the_offending_text_fails(toy: ToyServer) -> None:
    texts = list(TEXTS[:10])
    texts[6] = f"this one says {REJECT_MARKER}"
    result = embed_many(toy_client(toy), texts, batch_size=10, retries=0)
    assert result.failed_indices == [6]
    assert isinstance(result.failures[0].error, InvalidRequestError)
    assert result.embedded.sum() == 9
    assert result.fatal is None


def test_deployment_without_embeddings_stops_the_run_with_a_fatal_error(toy: ToyServer) -> None:
    toy.state.model_type = "chat-completion"
    result = embed_many(toy_client(toy), TEXTS, batch_size=2, concurrency=2)
    assert isinstance(result.fatal, ModalityNotSupportedError)
    assert result.missing_indices == list(range(23))
    assert result.failed_indices == list(range(23))
    assert toy.state.requests <= 3  # the first answers stop the rest from being sent


def test_cancel_stops_new_batches_and_keeps_what_arrived(toy: ToyServer) -> None:
    toy.state.delay_s = 0.05
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done >= 3:
            cancel.set()

    result = embed_many(toy_client(toy), TEXTS, batch_size=1, concurrency=1, cancel=cancel, on_progress=progress)
    assert result.cancelled
    assert 3 <= int(result.embedded.sum()) < 23
    assert result.failed_indices == []
    assert toy.state.requests < 23
    kept = np.flatnonzero(result.embedded)
    assert np.allclose(result.vectors[kept[0]], toy_vector(TEXTS[kept[0]], 32))


def test_base64_encoding_is_decoded_to_the_same_vectors(toy: ToyServer) -> None:
    client = toy_client(toy)
    floats = embed_many(client, TEXTS[:5])
    b64 = embed_many(client, TEXTS[:5], encoding_format="base64")
    assert np.allclose(floats.vectors, b64.vectors)


def test_no_texts_gives_an_empty_result_without_requests(toy: ToyServer) -> None:
    result = embed_many(toy_client(toy), [])
    assert len(result) == 0 and result.complete
    assert toy.state.requests == 0


def test_embedded_minilm_deployment_embeds_in_order_with_384_dimensions(
    local_deployments: dict[str, Deployment],
) -> None:
    texts = [
        "The cat sat on the mat.",
        "A kitten rests on a rug.",
        "Interest rates rose again.",
        "Stocks fell sharply.",
    ]
    with InferenceClient(local_deployments["all-minilm-l6-v2"]) as client:
        result = embed_many(client, texts, batch_size=2, concurrency=2, input_type="document")
        single = client.embed([texts[2]]).vectors[0]
    assert result.vectors.shape == (4, 384) and result.complete
    assert np.allclose(result.vectors[2], single, atol=1e-5)
    sims = result.vectors @ result.vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[1, 3]


def test_cache_file_holds_neither_the_key_nor_the_texts(toy: ToyServer, tmp_path: Path) -> None:
    secret = "sk-test-0123456789abcdef"
    client = InferenceClient(Deployment(name="toy", endpoint=f"{toy.url}/toy", key=secret, max_retries=0))
    store = EmbeddingCache(tmp_path / "cache.sqlite")
    embed_many(client, ["a private sentence about payroll"], cache=store)
    store.close()
    raw = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert secret.encode() not in raw
    assert b"payroll" not in raw
