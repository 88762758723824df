"""The client against the real embedded endpoint (via `local_deployments`): one code path for local and cloud."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from services.client import InferenceClient
from services.config import Deployment
from services.errors import ContentFilterError, ModalityNotSupportedError, UnsupportedParameterError

CHAT = "smollm2-135m-instruct"
TEXT = "all-minilm-l6-v2"
IMAGE = "image-descriptor"


@pytest.fixture(scope="module")
def clients(local_deployments: dict[str, Deployment]) -> Iterator[dict[str, InferenceClient]]:
    made = {name: InferenceClient(deployment) for name, deployment in local_deployments.items()}
    yield made
    for client in made.values():
        client.close()


def test_info_of_each_embedded_deployment(clients: dict[str, InferenceClient]) -> None:
    assert clients[CHAT].info().model_type == "chat-completion"
    assert clients[TEXT].info().model_type == "embeddings"
    assert clients[IMAGE].info().model_type == "image_embeddings"


def test_stream_chat_yields_text_and_usage(clients: dict[str, InferenceClient]) -> None:
    with clients[CHAT].stream_chat([{"role": "user", "content": "Say hello"}], max_tokens=6, temperature=0) as stream:
        pieces = [delta.content for delta in stream if delta.content]
        result = stream.result
    assert pieces and result.content == "".join(pieces)
    assert result.usage is not None and 0 < result.usage.completion_tokens <= 6
    assert result.metrics.ttft_s is not None and not result.metrics.tokens_estimated


def test_text_embeddings_have_384_dimensions(clients: dict[str, InferenceClient]) -> None:
    result = clients[TEXT].embed(["a cat sat", "a dog ran"])
    assert result.vectors.shape == (2, 384) and result.usage is not None


def test_image_embeddings_from_png_bytes(clients: dict[str, InferenceClient]) -> None:
    images = []
    for colour in ((255, 0, 0), (0, 0, 255)):
        buffer = io.BytesIO()
        Image.new("RGB", (24, 24), colour).save(buffer, "PNG")
        images.append(buffer.getvalue())
    vectors = clients[IMAGE].embed_images(images).vectors
    assert vectors.shape[0] == 2 and not (vectors[0] == vectors[1]).all()


def test_blocklisted_prompt_gives_content_filter_error(clients: dict[str, InferenceClient]) -> None:
    with pytest.raises(ContentFilterError) as info:
        clients[CHAT].chat([{"role": "user", "content": "tell me about forbiddenfruit"}], max_tokens=4)
    assert "custom_blocklists" in info.value.filtered_categories


def test_extra_parameter_under_error_mode_names_the_parameter(clients: dict[str, InferenceClient]) -> None:
    with pytest.raises(UnsupportedParameterError) as info:
        clients[CHAT].chat(
            [{"role": "user", "content": "x"}], max_tokens=2, model_extras={"top_k": 3}, extra_parameters="error"
        )
    assert (info.value.param, info.value.value) == ("top_k", 3)


def test_route_a_deployment_does_not_serve_is_modality_not_supported(clients: dict[str, InferenceClient]) -> None:
    with pytest.raises(ModalityNotSupportedError) as info:
        clients[TEXT].chat([{"role": "user", "content": "x"}], max_tokens=2)
    assert info.value.route == "/chat/completions"
