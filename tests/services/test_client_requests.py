"""Request building and response parsing through httpx.MockTransport: URLs, headers, auth, bodies, results."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from services.client import InferenceClient
from services.config import Deployment
from services.errors import AuthenticationError, InferenceError, ModalityNotSupportedError
from services.http import SCOPE_COGNITIVE, SCOPE_ML, entra_scope
from services.schemas import ImageContentItem, ImageInput, ImageUrl, SystemMessage, TextContentItem, UserMessage

KEY = "unit-secret-key-42"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24
CHAT = {
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}
HI = [{"role": "user", "content": "hi"}]


class Recorder:
    """A MockTransport handler that records requests and answers with a fixed JSON body."""

    def __init__(self, body: Any = None, status: int = 200) -> None:
        self.requests: list[httpx.Request] = []
        self.body = CHAT if body is None else body
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def sent(self) -> dict[str, Any]:
        return json.loads(self.last.content)


def make(recorder: Recorder, **fields: Any) -> InferenceClient:
    values: dict[str, Any] = {"name": "unit", "endpoint": "https://x.models.ai.azure.com", "key": KEY}
    values.update(fields)
    return InferenceClient(Deployment(**values), transport=httpx.MockTransport(recorder))


@pytest.mark.parametrize(
    ("api", "endpoint", "query", "auth_headers"),
    [
        (
            "azure-inference",
            "https://x.models.ai.azure.com",
            "api-version=2024-05-01-preview",
            {"authorization", "api-key"},
        ),
        ("azure-openai", "https://r.openai.azure.com/openai/deployments/d", "api-version=2024-10-21", {"api-key"}),
        ("openai", "http://127.0.0.1:1234/v1", "", {"authorization"}),
        ("github", "https://models.github.ai/inference", "", {"authorization"}),
    ],
)
def test_url_and_auth_headers_per_api_kind(api: str, endpoint: str, query: str, auth_headers: set[str]) -> None:
    recorder = Recorder()
    make(recorder, api=api, endpoint=endpoint).chat(HI)
    request = recorder.last
    assert str(request.url).split("?")[0] == endpoint + "/chat/completions"
    assert request.url.query.decode() == query
    assert {name for name in ("authorization", "api-key") if name in request.headers} == auth_headers
    if "authorization" in auth_headers:
        assert request.headers["authorization"] == f"Bearer {KEY}"
    if "api-key" in auth_headers:
        assert request.headers["api-key"] == KEY


def test_configured_api_version_wins() -> None:
    recorder = Recorder()
    make(recorder, api_version="2025-04-01").chat(HI)
    assert recorder.last.url.params["api-version"] == "2025-04-01"


def test_no_auth_header_without_key() -> None:
    recorder = Recorder()
    make(recorder, key=None).chat(HI)
    assert "authorization" not in recorder.last.headers and "api-key" not in recorder.last.headers


def test_unset_parameters_are_not_sent() -> None:
    recorder = Recorder()
    make(recorder).chat(HI, temperature=None, top_p=0.5, max_tokens=None, stop="END", seed=None, tools=None)
    assert recorder.sent() == {"messages": HI, "top_p": 0.5, "stop": ["END"]}
    assert "extra-parameters" not in recorder.last.headers


def test_model_extras_are_merged_with_pass_through_header() -> None:
    recorder = Recorder()
    make(recorder).chat(HI, temperature=0.1, model_extras={"top_k": 5, "safe_mode": True})
    assert recorder.sent() == {"messages": HI, "temperature": 0.1, "top_k": 5, "safe_mode": True}
    assert recorder.last.headers["extra-parameters"] == "pass-through"


@pytest.mark.parametrize("mode", ["drop", "error"])
def test_caller_can_choose_extra_parameters_mode(mode: str) -> None:
    recorder = Recorder()
    make(recorder).chat(HI, model_extras={"top_k": 5}, extra_parameters=mode)
    assert recorder.last.headers["extra-parameters"] == mode and recorder.sent()["top_k"] == 5


def test_invalid_extra_parameters_mode_and_unknown_parameter_are_rejected_before_sending() -> None:
    recorder = Recorder()
    client = make(recorder)
    with pytest.raises(ValueError, match="extra_parameters"):
        client.chat(HI, extra_parameters="sometimes")
    with pytest.raises(TypeError, match="temprature"):
        client.chat(HI, temprature=0.3)
    with pytest.raises(ValueError, match="at least one message"):
        client.chat([])
    assert recorder.requests == []


def test_model_and_azureml_deployment_and_extra_headers_are_sent() -> None:
    recorder = Recorder()
    client = make(recorder, model="Phi-4", azureml_deployment="blue", extra_headers={"x-team": "t"})
    client.chat(HI)
    assert recorder.sent()["model"] == "Phi-4"
    assert recorder.last.headers["azureml-model-deployment"] == "blue" and recorder.last.headers["x-team"] == "t"


def test_typed_messages_become_plain_json() -> None:
    recorder = Recorder()
    image = ImageContentItem(image_url=ImageUrl(url="data:image/png;base64,AAAA", detail="low"))
    messages = [SystemMessage(content="be brief"), UserMessage(content=[TextContentItem(text="what?"), image])]
    make(recorder).chat(messages)
    assert recorder.sent()["messages"] == [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
            ],
        },
    ]


def test_response_format_and_tools_are_sent_as_given() -> None:
    recorder = Recorder()
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    make(recorder).chat(HI, response_format="json_object", tools=[tool], tool_choice="auto")
    sent = recorder.sent()
    assert (
        sent["response_format"] == {"type": "json_object"} and sent["tools"] == [tool] and sent["tool_choice"] == "auto"
    )


def test_openai_kinds_ask_for_usage_in_streams() -> None:
    def stream(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(
            200, content=b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
        )

    seen: list[dict[str, Any]] = []
    for api in ("openai", "azure-inference"):
        client = InferenceClient(
            Deployment(name="s", endpoint="http://h/v1", api=api), transport=httpx.MockTransport(stream)
        )
        list(client.stream_chat(HI))
    assert seen[0]["stream_options"] == {"include_usage": True} and "stream_options" not in seen[1]


def test_embeddings_in_input_order_and_base64_floats_decoded() -> None:
    vectors = np.array([[1.5, -2.0, 0.25], [3.0, 4.0, 5.0]], dtype="<f4")
    body = {
        "data": [
            {"index": 1, "embedding": base64.b64encode(vectors[1].tobytes()).decode()},
            {"index": 0, "embedding": base64.b64encode(vectors[0].tobytes()).decode()},
        ],
        "model": "m",
        "usage": {"prompt_tokens": 4, "total_tokens": 4},
    }
    recorder = Recorder(body)
    result = make(recorder).embed(["a", "b"], encoding_format="base64", dimensions=3, input_type=None)
    assert recorder.sent() == {"input": ["a", "b"], "encoding_format": "base64", "dimensions": 3}
    assert result.vectors.dtype == np.float32 and np.array_equal(result.vectors, vectors)
    assert result.usage is not None and result.usage.prompt_tokens == 4 and result.metrics.tokens_per_s is None


def test_embed_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError, match="list of strings"):
        make(Recorder()).embed("not a list")  # type: ignore[arg-type]


def test_images_from_bytes_path_and_data_url(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(PNG)
    recorder = Recorder({"data": [{"index": i, "embedding": [float(i)]} for i in range(3)]})
    data_url = "data:image/jpeg;base64,/9j/AA=="
    result = make(recorder).embed_images([PNG, ImageInput(image=path, text="cat"), data_url])
    sent = recorder.sent()["input"]
    expected_png = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert sent == [{"image": expected_png}, {"image": expected_png, "text": "cat"}, {"image": data_url}]
    assert recorder.last.url.path == "/images/embeddings" and result.vectors.shape == (3, 1)


def test_bad_images_are_clear_errors(tmp_path: Path) -> None:
    client = make(Recorder())
    with pytest.raises(FileNotFoundError, match=r"missing\.png"):
        client.embed_images([tmp_path / "missing.png"])
    with pytest.raises(ValueError, match="not a recognised image"):
        client.embed_images([b"hello"])


def test_info_is_not_requested_for_kinds_without_it() -> None:
    recorder = Recorder()
    with pytest.raises(ModalityNotSupportedError) as info:
        make(recorder, api="azure-openai", endpoint="https://r.openai.azure.com/openai/deployments/d").info()
    assert info.value.route == "/info" and recorder.requests == []


def test_info_on_ga_version_passes_model() -> None:
    recorder = Recorder({"model_name": "p", "model_type": "chat_completion", "model_provider_name": "x"})
    make(recorder, api_version="2025-04-01", model="phi").info()
    assert recorder.last.url.params["model"] == "phi"


def test_no_key_in_any_error_string_or_repr() -> None:
    body = {"error": {"code": "401", "message": f"key {KEY} is wrong", "param": KEY}}
    for status in (400, 401, 404, 422, 429, 500):
        client = make(Recorder(body, status=status), max_retries=0)
        with pytest.raises(InferenceError) as info:
            client.chat(HI)
        assert KEY not in str(info.value) and KEY not in repr(info.value) and KEY not in info.value.message
    assert KEY not in repr(client) and KEY not in repr(client.deployment)


class FakeCredential:
    """Stands in for Azure's DefaultAzureCredential: records scopes, hands out a token."""

    def __init__(self, fail: bool = False) -> None:
        self.scopes: list[str] = []
        self.fail = fail

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.scopes.extend(scopes)
        if self.fail:
            raise RuntimeError("no credential available")

        class Token:
            token = "entra-token"
            expires_on = 4_102_444_800  # 2100: cached for the whole test

        return Token()


@pytest.mark.parametrize(
    ("api", "endpoint", "scope"),
    [
        ("azure-inference", "https://x.eastus.models.ai.azure.com", SCOPE_ML),
        ("azure-inference", "https://ep.eastus.inference.ml.azure.com", SCOPE_ML),
        ("azure-inference", "https://res.services.ai.azure.com/models", SCOPE_COGNITIVE),
        ("azure-openai", "https://res.openai.azure.com/openai/deployments/d", SCOPE_COGNITIVE),
    ],
)
def test_entra_uses_the_scope_of_the_endpoint_kind(api: str, endpoint: str, scope: str) -> None:
    recorder = Recorder()
    credential = FakeCredential()
    deployment = Deployment(name="e", endpoint=endpoint, api=api, auth="entra", key="ignored")
    client = InferenceClient(deployment, transport=httpx.MockTransport(recorder), credential=credential)
    client.chat(HI)
    client.chat(HI)
    assert entra_scope(deployment) == scope and credential.scopes == [scope]  # the token is cached
    assert recorder.last.headers["authorization"] == "Bearer entra-token" and "api-key" not in recorder.last.headers


def test_entra_credential_failure_is_an_authentication_error() -> None:
    deployment = Deployment(name="e", endpoint="https://x.models.ai.azure.com", auth="entra")
    recorder = Recorder()
    client = InferenceClient(deployment, transport=httpx.MockTransport(recorder), credential=FakeCredential(fail=True))
    with pytest.raises(AuthenticationError, match="Entra ID token") as info:
        client.chat(HI)
    assert info.value.key_source == "entra" and recorder.requests == []
