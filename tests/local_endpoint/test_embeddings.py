"""Text embeddings (MiniLM) and image embeddings (classical descriptor) over real HTTP and both SDKs."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from azure.ai.inference import EmbeddingsClient, ImageEmbeddingsClient
from azure.ai.inference.models import ImageEmbeddingInput
from azure.core.credentials import AzureKeyCredential
from openai import OpenAI
from PIL import Image, ImageDraw

from tests.local_endpoint.openapi import validate

API = {"api-version": "2024-05-01-preview"}


def _embed(url: str, body: dict, path: str = "all-minilm-l6-v2/embeddings") -> httpx.Response:
    return httpx.post(f"{url}/{path}", params=API, json=body, timeout=30)


def test_cat_is_nearer_kitten_than_car_with_the_azure_sdk(local_endpoint_url: str) -> None:
    with EmbeddingsClient(endpoint=f"{local_endpoint_url}/all-minilm-l6-v2", credential=AzureKeyCredential("x")) as c:
        result = c.embed(input=["cat", "kitten", "car"])
    cat, kitten, car = (np.array(item.embedding) for item in result.data)
    assert len(cat) == 384
    assert np.isclose(np.linalg.norm(cat), 1.0, atol=1e-4)
    assert cat @ kitten > cat @ car
    assert result.usage.prompt_tokens > 0


def test_embeddings_body_fits_the_contract(local_endpoint_url: str) -> None:
    answer = _embed(local_endpoint_url, {"input": ["a first text", "a second"]})
    assert answer.status_code == 200
    body = answer.json()
    validate(body, "EmbeddingsResult", "2024-05-01-preview")
    assert [item["index"] for item in body["data"]] == [0, 1]


def test_openai_sdk_embeds_on_v1_with_its_default_base64(local_endpoint_url: str) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused")
    result = client.embeddings.create(model="all-minilm-l6-v2", input=["cat", "kitten"])
    vectors = [np.array(item.embedding) for item in result.data]
    assert len(vectors[0]) == 384 and vectors[0] @ vectors[1] > 0.5


def test_every_encoding_format_decodes_to_the_same_direction(local_endpoint_url: str) -> None:
    floats = np.array(_embed(local_endpoint_url, {"input": ["hello world"]}).json()["data"][0]["embedding"])
    b64 = _embed(local_endpoint_url, {"input": ["hello world"], "encoding_format": "base64"}).json()
    decoded = np.frombuffer(base64.b64decode(b64["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(decoded, floats, atol=1e-6)
    int8 = np.array(
        _embed(local_endpoint_url, {"input": ["hello world"], "encoding_format": "int8"}).json()["data"][0]["embedding"]
    )
    assert int8.min() >= -128 and int8.max() <= 127
    assert np.corrcoef(int8, floats)[0, 1] > 0.99
    ubinary = _embed(local_endpoint_url, {"input": ["hello world"], "encoding_format": "ubinary"}).json()
    bits = np.unpackbits(np.array(ubinary["data"][0]["embedding"], dtype=np.uint8))
    assert np.array_equal(bits.astype(bool), floats > 0)


def test_other_dimensions_are_not_supported(local_endpoint_url: str) -> None:
    assert _embed(local_endpoint_url, {"input": ["x"], "dimensions": 384}).status_code == 200
    answer = _embed(local_endpoint_url, {"input": ["x"], "dimensions": 128})
    assert answer.status_code == 422
    assert answer.json()["code"] == "parameter_not_supported"
    assert answer.json()["detail"][0]["loc"] == ["body", "dimensions"]


def test_bad_embeddings_input_is_422_naming_the_item(local_endpoint_url: str) -> None:
    answer = _embed(local_endpoint_url, {"input": ["fine", 42]})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "input", 1]
    assert _embed(local_endpoint_url, {"input": []}).status_code == 422
    extra = _embed(local_endpoint_url, {"input": ["x"], "pooling": "max"})
    assert extra.status_code == 422 and extra.json()["detail"][0]["type"] == "extra_forbidden"


def _png(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


def _scene(shift: int = 0, sun: tuple[int, int, int] = (250, 200, 40)) -> Image.Image:
    """A sky over green hills with a sun: the kind of picture a person would call 'the same' when shifted a little."""
    img = Image.new("RGB", (160, 120))
    draw = ImageDraw.Draw(img)
    for y in range(120):
        draw.line([(0, y), (160, y)], fill=(80 + y // 2, 140 + y // 3, 235) if y < 70 else (40, 150 - y // 4, 50))
    draw.ellipse([110 + shift, 12, 140 + shift, 42], fill=sun)
    return img


def _stripes() -> Image.Image:
    img = Image.new("RGB", (160, 120), (10, 10, 10))
    draw = ImageDraw.Draw(img)
    for x in range(0, 160, 12):
        draw.rectangle([x, 0, x + 5, 120], fill=(200, 30, 160))
    return img


def _data_url(data: bytes, fmt: str = "png") -> str:
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}"


def test_similar_pictures_land_closer_than_different_ones(local_endpoint_url: str) -> None:
    images = [_png(_scene()), _png(_scene(shift=-8), "JPEG"), _png(_stripes())]
    with ImageEmbeddingsClient(
        endpoint=f"{local_endpoint_url}/image-descriptor", credential=AzureKeyCredential("x")
    ) as client:
        result = client.embed(input=[ImageEmbeddingInput(image=_data_url(data)) for data in images])
    scene, shifted, stripes = (np.array(item.embedding) for item in result.data)
    assert np.isclose(np.linalg.norm(scene), 1.0, atol=1e-4)
    assert scene @ shifted > 0.9
    assert scene @ shifted > scene @ stripes + 0.3


def test_image_embeddings_body_fits_the_contract(local_endpoint_url: str) -> None:
    body = {"input": [{"image": _data_url(_png(_scene()))}]}
    answer = _embed(local_endpoint_url, body, "image-descriptor/images/embeddings")
    assert answer.status_code == 200
    validate(answer.json(), "EmbeddingsResult")


def test_text_with_an_image_is_422_naming_input_text(local_endpoint_url: str) -> None:
    body = {"input": [{"image": _data_url(_png(_scene()))}, {"image": _data_url(_png(_scene())), "text": "a sun"}]}
    answer = _embed(local_endpoint_url, body, "image-descriptor/images/embeddings")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "input", 1, "text"]
    assert "input[1].text" in answer.json()["message"]


@pytest.mark.parametrize(
    "image",
    ["https://example.invalid/cat.png", "data:image/png;base64,@@@", _data_url(b"this is not a picture")],
)
def test_unreadable_image_is_422_naming_input_image(local_endpoint_url: str, image: str) -> None:
    answer = _embed(local_endpoint_url, {"input": [{"image": image}]}, "image-descriptor/images/embeddings")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "input", 0, "image"]
