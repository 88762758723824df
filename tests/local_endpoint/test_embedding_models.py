"""Both text embedding deployments over real HTTP on loopback: the official SDKs, /info, every encoding_format,
`dimensions`, and vectors that do not depend on the batch they came in."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest
from azure.ai.inference import EmbeddingsClient
from azure.ai.inference.models import EmbeddingEncodingFormat
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from openai import OpenAI, UnprocessableEntityError

from tests.local_endpoint.openapi import validate

API = {"api-version": "2024-05-01-preview"}
MODELS = {"all-minilm-l6-v2": "all-MiniLM-L6-v2", "paraphrase-minilm-l3-v2": "paraphrase-MiniLM-L3-v2"}
DIMS = 384
TEXTS = ["a cat sits on the mat", "a kitten rests on a rug", "the central bank raised interest rates again"]
# Lengths from one word to about 120 words, so that batches pad to very different widths.
MIXED = [" ".join(["word", "river", "quietly", "engine", "of", "the"] * n)[: 7 * n + 3] for n in range(1, 120, 9)]

deployments = pytest.mark.parametrize("deployment", sorted(MODELS))


def _embed(url: str, deployment: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/{deployment}/embeddings", params=API, json=body, timeout=60)


def _floats(url: str, deployment: str, texts: list[str]) -> np.ndarray:
    answer = _embed(url, deployment, {"input": texts})
    assert answer.status_code == 200, answer.text
    validate(answer.json(), "EmbeddingsResult", API["api-version"])
    return np.array([item["embedding"] for item in answer.json()["data"]], dtype=np.float32)


@deployments
def test_info_names_each_model(local_endpoint_url: str, deployment: str) -> None:
    info = httpx.get(f"{local_endpoint_url}/{deployment}/info", params=API).json()
    assert info == {
        "model_name": MODELS[deployment],
        "model_type": "embeddings",
        "model_provider_name": "sentence-transformers",
    }
    multi = httpx.get(f"{local_endpoint_url}/models/info", params={**API, "model": deployment}).json()
    assert multi["model_name"] == MODELS[deployment]


@deployments
def test_azure_sdk_embeds_with_each_deployment(local_endpoint_url: str, deployment: str) -> None:
    with EmbeddingsClient(endpoint=f"{local_endpoint_url}/{deployment}", credential=AzureKeyCredential("x")) as c:
        result = c.embed(input=TEXTS)
        b64 = c.embed(input=TEXTS, encoding_format=EmbeddingEncodingFormat.BASE64)
        with pytest.raises(HttpResponseError) as refused:
            c.embed(input=TEXTS, dimensions=128)
    assert result.model == MODELS[deployment]
    cat, kitten, bank = (np.array(item.embedding) for item in result.data)
    assert len(cat) == DIMS and np.isclose(np.linalg.norm(cat), 1.0, atol=1e-4)
    assert cat @ kitten > cat @ bank + 0.2
    assert result.usage.prompt_tokens > len(TEXTS)
    decoded = np.frombuffer(base64.b64decode(b64.data[0].embedding), dtype="<f4")
    assert np.allclose(decoded, cat, atol=1e-6)
    assert refused.value.status_code == 422 and "dimensions" in str(refused.value)


@deployments
def test_openai_sdk_embeds_with_each_deployment(local_endpoint_url: str, deployment: str) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused", max_retries=0)
    default = client.embeddings.create(model=deployment, input=TEXTS)  # the SDK asks for base64 and decodes it
    floats = client.embeddings.create(model=deployment, input=TEXTS, encoding_format="float")
    assert default.model == MODELS[deployment]
    a = np.array([d.embedding for d in default.data])
    b = np.array([d.embedding for d in floats.data])
    assert a.shape == (3, DIMS) and np.allclose(a, b, atol=1e-6)
    with pytest.raises(UnprocessableEntityError) as refused:
        client.embeddings.create(model=deployment, input=TEXTS, dimensions=64)
    assert refused.value.body["detail"][0]["loc"] == ["body", "dimensions"]


def test_the_two_models_give_different_vectors_for_the_same_texts(local_endpoint_url: str) -> None:
    first, second = (_floats(local_endpoint_url, d, TEXTS) for d in sorted(MODELS))
    assert first.shape == second.shape == (3, DIMS)
    # Different weights: a text's two vectors are far apart, while each model keeps cat and kitten close.
    assert max(float(first[i] @ second[i]) for i in range(3)) < 0.5
    assert first[0] @ first[1] > 0.6 and second[0] @ second[1] > 0.6


@deployments
def test_every_encoding_format_matches_the_float_vector(local_endpoint_url: str, deployment: str) -> None:
    floats = _floats(local_endpoint_url, deployment, TEXTS)

    def encoded(fmt: str) -> list:
        answer = _embed(local_endpoint_url, deployment, {"input": TEXTS, "encoding_format": fmt})
        assert answer.status_code == 200, answer.text
        return [item["embedding"] for item in answer.json()["data"]]

    b64 = np.stack([np.frombuffer(base64.b64decode(s), dtype="<f4") for s in encoded("base64")])
    assert b64.shape == (3, DIMS) and np.allclose(b64, floats, atol=1e-6)
    int8 = np.array(encoded("int8"))
    assert int8.dtype.kind == "i" and int8.min() >= -128 and int8.max() <= 127
    assert np.abs(int8 / 127.0 - floats).max() <= 0.5 / 127 + 1e-6
    uint8 = np.array(encoded("uint8"))
    assert uint8.min() >= 0 and uint8.max() <= 255
    assert np.abs(uint8 / 127.5 - 1.0 - floats).max() <= 0.5 / 127.5 + 1e-6
    for fmt, dtype in (("ubinary", np.uint8), ("binary", np.int8)):
        packed = np.array(encoded(fmt))
        assert packed.shape == (3, DIMS // 8)
        bits = np.unpackbits(packed.astype(dtype).view(np.uint8), axis=1)
        assert np.array_equal(bits.astype(bool), floats > 0), fmt
    assert np.array(encoded("binary")).min() < 0  # signed bytes: a leading 1 bit reads as negative


@deployments
def test_an_unknown_encoding_or_other_dimensions_is_a_422_naming_the_parameter(
    local_endpoint_url: str, deployment: str
) -> None:
    assert _embed(local_endpoint_url, deployment, {"input": ["x"], "dimensions": DIMS}).status_code == 200
    for field, value, code in (
        ("dimensions", 256, "parameter_not_supported"),
        ("encoding_format", "float16", "invalid_input"),
    ):
        answer = _embed(local_endpoint_url, deployment, {"input": ["x"], field: value})
        assert answer.status_code == 422
        body = answer.json()
        assert body["code"] == code and body["detail"][0]["loc"] == ["body", field], body
        assert field in body["message"]


@deployments
def test_vectors_do_not_depend_on_the_batch_they_came_in(local_endpoint_url: str, deployment: str) -> None:
    together = _floats(local_endpoint_url, deployment, MIXED)
    alone = np.concatenate([_floats(local_endpoint_url, deployment, [text]) for text in MIXED])
    reordered = _floats(local_endpoint_url, deployment, MIXED[::-1])[::-1]
    assert together.shape == (len(MIXED), DIMS)
    assert np.allclose(together, alone, atol=1e-5)
    assert np.allclose(together, reordered, atol=1e-5)
