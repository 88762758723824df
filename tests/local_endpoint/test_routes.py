"""Routes, /info, /health, api-version and 404s of the embedded endpoint, over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from azure.ai.inference import ChatCompletionsClient, EmbeddingsClient, ImageEmbeddingsClient
from azure.core.credentials import AzureKeyCredential
from openai import OpenAI

from tests.local_endpoint.openapi import model_type_with_live_forms, validate

DEPLOYMENTS = {
    "smollm2-135m-instruct": "chat-completion",
    "all-minilm-l6-v2": "embeddings",
    "paraphrase-minilm-l3-v2": "embeddings",
    "image-descriptor": "image_embeddings",
}


def test_health_answers_ok(local_endpoint_url: str) -> None:
    answer = httpx.get(f"{local_endpoint_url}/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}
    ready = httpx.get(f"{local_endpoint_url}/health", params={"ready": "1"}).json()
    assert ready["models"] == dict.fromkeys(DEPLOYMENTS, "ready")


@pytest.mark.parametrize("version", ["2024-05-01-preview", "2025-04-01"])
@pytest.mark.parametrize("deployment", list(DEPLOYMENTS))
def test_serverless_info_names_each_model_and_fits_the_contract(
    local_endpoint_url: str, deployment: str, version: str
) -> None:
    answer = httpx.get(f"{local_endpoint_url}/{deployment}/info", params={"api-version": version})
    assert answer.status_code == 200
    body = answer.json()
    validate(body, "ModelInfo", version, ModelType=model_type_with_live_forms())
    assert body["model_type"] == DEPLOYMENTS[deployment]
    assert answer.headers["x-request-id"]


def test_image_descriptor_info_says_it_is_a_classical_descriptor(local_endpoint_url: str) -> None:
    body = httpx.get(f"{local_endpoint_url}/image-descriptor/info", params={"api-version": "2025-04-01"}).json()
    assert "descriptor" in body["model_name"]
    assert "no learned weights" in body["model_provider_name"]


def test_sdk_clients_read_info_for_every_deployment(local_endpoint_url: str) -> None:
    key = AzureKeyCredential("unused-when-open")
    kinds = {
        "smollm2-135m-instruct": ChatCompletionsClient,
        "all-minilm-l6-v2": EmbeddingsClient,
        "image-descriptor": ImageEmbeddingsClient,
    }
    for name, client_class in kinds.items():
        with client_class(endpoint=f"{local_endpoint_url}/{name}", credential=key) as client:
            assert client.get_model_info().model_type == DEPLOYMENTS[name]


def test_multi_model_info_takes_the_model_query(local_endpoint_url: str) -> None:
    answer = httpx.get(
        f"{local_endpoint_url}/models/info", params={"api-version": "2025-04-01", "model": "all-minilm-l6-v2"}
    )
    assert answer.json()["model_name"] == "all-MiniLM-L6-v2"
    unknown = httpx.get(f"{local_endpoint_url}/models/info", params={"api-version": "2025-04-01", "model": "gpt-9"})
    assert unknown.status_code == 404
    validate(unknown.json(), "Azure.Core.Foundations.ErrorResponse")
    assert "gpt-9" in unknown.json()["error"]["message"]


def test_openai_sdk_lists_every_deployment(local_endpoint_url: str) -> None:
    client = OpenAI(base_url=f"{local_endpoint_url}/v1", api_key="unused")
    assert sorted(m.id for m in client.models.list()) == sorted(DEPLOYMENTS)
    raw = httpx.get(f"{local_endpoint_url}/v1/models").json()
    assert {"id": "image-descriptor"}.items() <= raw["data"][3].items()


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/all-minilm-l6-v2/chat/completions", "POST"),
        ("/smollm2-135m-instruct/embeddings", "POST"),
        ("/smollm2-135m-instruct/images/embeddings", "POST"),
        ("/image-descriptor/embeddings", "POST"),
        ("/no-such-deployment/info", "GET"),
        # The chat model serves OpenAI's /completions (a local addition); the embedding models do not.
        ("/all-minilm-l6-v2/completions", "POST"),
        ("/smollm2-135m-instruct/audio/transcriptions", "POST"),
    ],
)
def test_route_the_deployment_does_not_serve_is_plain_text_404(local_endpoint_url: str, path: str, method: str) -> None:
    answer = httpx.request(method, f"{local_endpoint_url}{path}", params={"api-version": "2024-05-01-preview"}, json={})
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/plain")
    assert answer.text == "NOT FOUND"


def test_multi_model_route_for_the_wrong_modality_is_404(local_endpoint_url: str) -> None:
    answer = httpx.post(
        f"{local_endpoint_url}/models/chat/completions",
        params={"api-version": "2024-05-01-preview"},
        json={"model": "all-minilm-l6-v2", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert (answer.status_code, answer.text) == (404, "NOT FOUND")


@pytest.mark.parametrize(
    "path", ["/smollm2-135m-instruct/info", "/all-minilm-l6-v2/embeddings", "/models/chat/completions"]
)
def test_azure_routes_without_api_version_get_the_contract_error(local_endpoint_url: str, path: str) -> None:
    method = "GET" if path.endswith("/info") else "POST"
    answer = httpx.request(method, f"{local_endpoint_url}{path}", json={"input": ["x"]})
    assert answer.status_code == 400
    body = answer.json()
    validate(body, "Azure.Core.Foundations.ErrorResponse")
    assert body["error"]["code"] == "MissingApiVersionParameter"
    assert answer.headers["x-ms-error-code"] == "MissingApiVersionParameter"


def test_unknown_api_version_is_refused_naming_it(local_endpoint_url: str) -> None:
    answer = httpx.get(f"{local_endpoint_url}/all-minilm-l6-v2/info", params={"api-version": "2023-01-01"})
    assert answer.status_code == 400
    assert "2023-01-01" in answer.json()["error"]["message"]


def test_malformed_json_body_is_a_clear_400(local_endpoint_url: str) -> None:
    answer = httpx.post(
        f"{local_endpoint_url}/all-minilm-l6-v2/embeddings",
        params={"api-version": "2024-05-01-preview"},
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    validate(answer.json(), "Azure.Core.Foundations.ErrorResponse")
    assert answer.json()["error"]["code"] == "invalid_json"


def test_invalid_extra_parameters_header_is_a_400(local_endpoint_url: str) -> None:
    answer = httpx.post(
        f"{local_endpoint_url}/all-minilm-l6-v2/embeddings",
        params={"api-version": "2024-05-01-preview"},
        headers={"extra-parameters": "maybe"},
        json={"input": ["x"]},
    )
    assert answer.status_code == 400
    assert "maybe" in answer.json()["error"]["message"]
