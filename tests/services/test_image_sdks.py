"""The official SDKs against the image server, so its shapes are the real ones; and View code's image snippets run
as written against it (keys from the environment, images saved)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import openai
import pytest
from azure.ai.inference import ChatCompletionsClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from PIL import Image

from services import image_codegen
from services.config import Deployment
from tests.fixtures.image_server import BLOCKED_WORD, ImageEndpoint, ImageServer

KEY = "sdk-image-key-0123456789"


def _format(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or "", image.size


def test_openai_sdk_reads_azure_openai_dall_e_3_answers_b64_and_url(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", key=KEY)
    client = openai.AzureOpenAI(base_url=endpoint.url, api_version="2024-10-21", api_key=KEY, max_retries=0)
    inline = client.images.generate(model="dall-e-3", prompt="a red fox", size="1792x1024", response_format="b64_json")
    assert _format(base64.b64decode(inline.data[0].b64_json or "")) == ("PNG", (1792, 1024))
    assert inline.data[0].revised_prompt == "A detailed picture of a red fox."
    linked = client.images.generate(model="dall-e-3", prompt="a red fox")
    assert (linked.data[0].url or "").startswith(f"{image_server.url}/{endpoint.prefix}/files/")
    assert endpoint.generations[0].headers["api-key"] == KEY


def test_openai_sdk_reads_gpt_image_1_usage_and_formats(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("openai", "gpt-image-1", key=KEY)
    client = openai.OpenAI(base_url=endpoint.url, api_key=KEY, max_retries=0)
    result = client.images.generate(model="gpt-image-1", prompt="a cat", n=2, output_format="jpeg", size="1024x1536")
    assert [_format(base64.b64decode(item.b64_json or "")) for item in result.data or []] == [
        ("JPEG", (1024, 1536))
    ] * 2
    assert result.usage is not None and (result.usage.input_tokens, result.usage.output_tokens) == (12, 544)
    assert (result.output_format, result.size, result.background) == ("jpeg", "1024x1536", "opaque")


def test_openai_sdk_sees_the_errors_in_their_published_shapes(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3")
    client = openai.AzureOpenAI(base_url=endpoint.url, api_version="2024-10-21", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as filtered:
        client.images.generate(model="dall-e-3", prompt=f"a {BLOCKED_WORD}")
    assert filtered.value.code == "content_policy_violation"
    body: Any = filtered.value.body
    assert body["inner_error"]["content_filter_results"]["violence"] == {"filtered": True, "severity": "high"}
    with pytest.raises(openai.BadRequestError) as size:
        client.images.generate(model="dall-e-3", prompt="x", size="512x512")
    assert (size.value.code, size.value.param) == ("invalid_value", "size")
    chat = image_server.endpoint("azure-openai", "gpt-4o")
    chat_client = openai.AzureOpenAI(base_url=chat.url, api_version="2024-10-21", api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as unsupported:
        chat_client.images.generate(model="gpt-4o", prompt="x")
    assert unsupported.value.code == "OperationNotSupported"


def test_azure_ai_inference_pipeline_speaks_the_contract_dialect(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-inference", "flux-1", key=KEY)
    client = ChatCompletionsClient(endpoint=endpoint.url, credential=AzureKeyCredential(KEY))
    params = {"api-version": "2024-05-01-preview"}
    request = HttpRequest("POST", "/images/generations", params=params, json={"prompt": "a fox", "size": "512x512"})
    response = client.send_request(request)
    response.raise_for_status()
    answer = response.json()
    assert set(answer) == {"id", "created", "model", "data"} and answer["model"] == "flux-1"
    assert _format(base64.b64decode(answer["data"][0]["b64_json"])) == ("PNG", (512, 512))
    extra = HttpRequest(
        "POST", "/images/generations", params=params, json={"prompt": "a fox", "size": "512x512", "n": 2}
    )
    refused = client.send_request(extra)
    with pytest.raises(HttpResponseError):
        refused.raise_for_status()
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "n"]


CASES = [
    ("azure-openai", "dall-e-3", {}, {"size": "1024x1024", "response_format": "b64_json", "style": "natural"}),
    ("azure-openai", "gpt-image-1", {}, {"n": 2, "output_format": "webp"}),
    ("azure-inference", "flux-1", {"model": "flux-1"}, {"size": "1024x1024", "n": 2, "seed": 3}),
    ("openai", "dall-e-3", {"model": "dall-e-3"}, {"response_format": "b64_json"}),
]


def _deployment(endpoint: ImageEndpoint, fields: dict[str, Any]) -> Deployment:
    api = endpoint.dialect
    return Deployment(name="painter", endpoint=endpoint.url, api=api, key=KEY, key_source="environment", **fields)


@pytest.mark.parametrize("snippet", ["python_azure_inference", "python_openai", "curl"])
@pytest.mark.parametrize(("dialect", "model", "fields", "params"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_view_code_snippets_run_and_save_the_images(
    image_server: ImageServer,
    tmp_path: Path,
    snippet: str,
    dialect: str,
    model: str,
    fields: dict[str, Any],
    params: dict[str, Any],
) -> None:
    endpoint = image_server.endpoint(dialect, model, key=KEY)
    deployment = _deployment(endpoint, fields)
    extras = {"model_extras": {"negative_prompt": "blurry"}} if dialect == "azure-inference" else {}
    code = getattr(image_codegen, snippet)(deployment, "a lighthouse", {**params, **extras})
    assert code is not None and KEY not in code
    env = {**os.environ, image_codegen.key_env_var(deployment): KEY}
    command = [sys.executable, "-c", code] if snippet != "curl" else ["bash", "-c", code]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (seen,) = endpoint.generations
    sent = seen.json()
    assert sent["prompt"] == "a lighthouse" and all(sent[name] == value for name, value in params.items())
    if extras:
        assert sent["negative_prompt"] == "blurry" and seen.headers["extra-parameters"] == "pass-through"
    if snippet == "curl":
        assert '"data"' in done.stdout
        return
    saved = sorted(tmp_path.iterdir())
    assert len(saved) == params.get("n", 1)
    assert all(_format(path.read_bytes())[1] == (1024, 1024) for path in saved)


def test_snippets_name_environment_variables_never_the_key_or_header_values() -> None:
    secret_header = "hdr-value-0987654321"
    keyed = Deployment(
        name="painter",
        endpoint="https://res.openai.azure.com/openai/deployments/dall-e-3",
        api="azure-openai",
        key=KEY,
        extra_headers={"x-team": secret_header},
    )
    entra = keyed.model_copy(update={"auth": "entra", "key": None})
    for deployment in (keyed, entra):
        for snippet in (image_codegen.python_azure_inference, image_codegen.python_openai, image_codegen.curl):
            code = snippet(deployment, "a fox", {"size": "1024x1024"}) or ""
            assert KEY not in code and secret_header not in code
            assert "PAINTER_HEADER_X_TEAM" in code
    assert 'os.environ["AZURE_OPENAI_API_KEY"]' in image_codegen.python_openai(keyed, "a fox", {}) or ""
    assert "https://cognitiveservices.azure.com/.default" in image_codegen.python_azure_inference(entra, "a fox", {})
    assert "images/generations?api-version=2024-10-21" in image_codegen.curl(keyed, "a fox", {})
