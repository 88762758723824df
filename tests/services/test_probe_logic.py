"""The probe's decisions against an emulated Azure deployment (httpx transport), and against a closed port."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.capabilities import JSON_SCHEMA_PARAM, merge_seen, unsupported_params
from services.client import InferenceClient
from services.config import Deployment
from services.probe import (
    CAPABILITIES,
    Status,
    auth_mode,
    check_all,
    display_endpoint,
    probe_all,
    probe_capability,
    probe_settings,
)

Handler = Callable[[httpx.Request], httpx.Response]


def _chat_answer(stream: bool) -> httpx.Response:
    if stream:
        chunks = [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "{"}, "finish_reason": None}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        ]
        body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "{"}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        },
    )


def _unsupported(param: str, value: Any) -> httpx.Response:
    return httpx.Response(
        422,
        json={
            "status": 422,
            "code": "parameter_not_supported",
            "detail": [{"loc": ["body", param], "input": value, "msg": "not supported", "type": "unsupported"}],
            "message": "One of the parameters contain invalid values.",
        },
    )


class ChatOnlyAzure:
    """A serverless chat deployment without tools or json_schema, recording every body it receives."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.routes: list[str] = []
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.delay_s)
        path = request.url.path
        with self.lock:
            self.routes.append(path)
        if path.endswith("/info"):
            return httpx.Response(
                200, json={"model_name": "tiny", "model_type": "chat-completion", "model_provider_name": "Test"}
            )
        if not path.endswith("/chat/completions"):
            return httpx.Response(404, text="NOT FOUND", headers={"content-type": "text/plain"})
        body = json.loads(request.content)
        with self.lock:
            self.bodies.append(body)
        if "tools" in body:
            return _unsupported("tools", body["tools"])
        if body.get("response_format", {}).get("type") == "json_schema":
            return _unsupported("response_format", body["response_format"])
        if "top_k" in body and request.headers.get("extra-parameters") != "pass-through":
            return httpx.Response(400, json={"detail": "Extra parameters ['top_k'] are not allowed."})
        return _chat_answer(bool(body.get("stream")))


def _deployment(
    name: str = "tiny-chat", endpoint: str = "https://tiny.eastus.models.ai.azure.com", **kw: Any
) -> Deployment:
    return Deployment(name=name, endpoint=endpoint, **kw)


def _factory(handler: Handler) -> Callable[[Deployment], InferenceClient]:
    return lambda deployment: InferenceClient(deployment, transport=httpx.MockTransport(handler))


def test_probe_separates_supported_from_refused_parameters() -> None:
    server = ChatOnlyAzure()
    report = probe_all([_deployment()], client_factory=_factory(server))["tiny-chat"]
    statuses = {key: result.status for key, result in report.results.items()}
    assert statuses == {
        "chat": Status.SUPPORTED,
        "streaming": Status.SUPPORTED,
        "embeddings": Status.NOT_SUPPORTED,
        "image_embeddings": Status.NOT_SUPPORTED,
        "json_object": Status.SUPPORTED,
        "json_schema": Status.NOT_SUPPORTED,
        "tools": Status.NOT_SUPPORTED,
        "seed": Status.SUPPORTED,
        "stop": Status.SUPPORTED,
        "pass_through": Status.SUPPORTED,
        "text_completion": Status.NOT_SUPPORTED,  # its 404 on /completions
        "image_generation": Status.NOT_SUPPORTED,  # its 404 on /images/generations
    }
    assert report.results["tools"].param == "tools"
    assert "/completions" in report.results["text_completion"].detail
    assert "tools" in report.results["tools"].detail
    assert "/embeddings" in report.results["embeddings"].detail or "404" in report.results["embeddings"].detail
    assert report.probed_at.tzinfo is not None
    assert all(r.elapsed_s is not None and r.elapsed_s >= 0 for r in report.results.values())


def test_probe_spends_at_most_two_tokens_per_request() -> None:
    server = ChatOnlyAzure()
    probe_all([_deployment()], client_factory=_factory(server))
    assert len(server.bodies) == 8  # chat plus seven parameter checks
    assert all(0 < body["max_tokens"] <= 2 for body in server.bodies)


def test_probe_results_become_the_unsupported_parameters_a_422_would_mark() -> None:
    report = probe_all([_deployment()], client_factory=_factory(ChatOnlyAzure()))["tiny-chat"]
    params = unsupported_params(report)
    # JSON mode works, so only the schema form is off and response_format stays usable.
    assert set(params) == {"tools", JSON_SCHEMA_PARAM}
    assert "tools" in params["tools"]


def test_a_422_seen_in_chat_overrides_a_probe_that_found_the_parameter_fine() -> None:
    report = probe_all([_deployment()], client_factory=_factory(ChatOnlyAzure()))["tiny-chat"]
    merged = merge_seen(report, {"seed": "tiny-chat: seed is not supported [422]"})
    assert merged["seed"].status is Status.NOT_SUPPORTED
    assert "seen in a request" in merged["seed"].detail
    assert merged["stop"].status is Status.SUPPORTED
    assert merge_seen(None, {})["chat"].status is Status.UNKNOWN


def test_a_deployment_without_chat_skips_parameter_checks() -> None:
    def embeddings_only(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/embeddings") and "/images/" not in request.url.path:
            return httpx.Response(
                200,
                json={
                    "object": "list",
                    "model": "e",
                    "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}],
                },
            )
        return httpx.Response(404, text="NOT FOUND", headers={"content-type": "text/plain"})

    report = probe_all([_deployment("emb")], client_factory=_factory(embeddings_only))["emb"]
    assert report.status("chat") is Status.NOT_SUPPORTED
    assert report.status("embeddings") is Status.SUPPORTED
    assert report.status("tools") is Status.NOT_SUPPORTED
    assert report.results["tools"].detail.startswith("not probed: chat is not supported")
    # Without chat, its parameters are not marked one by one: nothing was asked about them.
    assert not report.results["tools"].probed
    assert unsupported_params(report) == {}


def test_refused_key_gives_unknown_everywhere_after_one_request() -> None:
    calls: list[str] = []

    def refuses(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(401, json={"statusCode": 401, "message": "Auth token validation failed."})

    deployment = _deployment("locked", key="sk-secret-123", key_source="file")
    report = probe_all([deployment], client_factory=_factory(refuses))["locked"]
    assert len(calls) == 1
    assert {r.status for r in report.results.values()} == {Status.UNKNOWN}
    assert all("sk-secret-123" not in r.detail for r in report.results.values())
    assert "locked" in report.results["tools"].detail


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_deployment_is_unknown_with_the_reason_not_a_crash() -> None:
    gone = _deployment("gone", endpoint=f"http://127.0.0.1:{_closed_port()}")
    started = time.perf_counter()
    reports = probe_all([gone, _deployment()], timeout_s=2.0, client_factory=lambda d: _real_or_fake(d))
    assert time.perf_counter() - started < 10
    assert {r.status for r in reports["gone"].results.values()} == {Status.UNKNOWN}
    assert reports["gone"].results["chat"].detail  # the reason in words
    assert reports["tiny-chat"].status("chat") is Status.SUPPORTED


def _real_or_fake(deployment: Deployment) -> InferenceClient:
    # The closed port goes over a real socket; the other deployment is the emulated one.
    if deployment.name == "gone":
        return InferenceClient(deployment)
    return InferenceClient(deployment, transport=httpx.MockTransport(ChatOnlyAzure()))


def test_deployments_are_probed_in_parallel() -> None:
    in_flight: dict[str, int] = {}
    overlap = {"max": 0}
    lock = threading.Lock()
    inner = ChatOnlyAzure()

    def slow(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        with lock:
            in_flight[host] = in_flight.get(host, 0) + 1
            overlap["max"] = max(overlap["max"], sum(1 for v in in_flight.values() if v))
        try:
            time.sleep(0.15)
            return inner(request)
        finally:
            with lock:
                in_flight[host] -= 1

    deployments = [_deployment(f"d{i}", endpoint=f"https://d{i}.eastus.models.ai.azure.com") for i in range(3)]
    reports = probe_all(deployments, client_factory=_factory(slow))
    assert set(reports) == {"d0", "d1", "d2"}
    assert overlap["max"] >= 2


def test_a_client_that_cannot_be_built_gives_unknowns_for_that_deployment_only() -> None:
    def factory(deployment: Deployment) -> InferenceClient:
        if deployment.name == "broken":
            raise RuntimeError("no credential available")
        return InferenceClient(deployment, transport=httpx.MockTransport(ChatOnlyAzure()))

    reports = probe_all([_deployment("broken"), _deployment()], client_factory=factory)
    assert reports["broken"].status("chat") is Status.UNKNOWN
    assert "no credential available" in reports["broken"].results["chat"].detail
    assert reports["tiny-chat"].status("chat") is Status.SUPPORTED


def test_probe_settings_shorten_timeouts_and_drop_retries() -> None:
    quick = probe_settings(_deployment(read_timeout=120, connect_timeout=10, max_retries=3), timeout_s=5)
    assert (quick.read_timeout, quick.connect_timeout, quick.max_retries) == (5, 5, 0)


def test_every_capability_of_the_issue_is_probed() -> None:
    assert [c.key for c in CAPABILITIES] == [
        "chat",
        "streaming",
        "embeddings",
        "image_embeddings",
        "text_completion",
        "image_generation",
        "json_object",
        "json_schema",
        "tools",
        "seed",
        "stop",
        "pass_through",
    ]


def test_check_reads_info_for_azure_inference_and_models_for_openai_compatible() -> None:
    def openai_compatible(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"object": "list", "data": [{"id": "llama3"}, {"id": "qwen"}]})
        return httpx.Response(404)

    azure = _deployment()
    local = _deployment("ollama", endpoint="http://127.0.0.1:11434/v1", api="openai")
    statuses = check_all(
        [azure, local],
        client_factory=lambda d: InferenceClient(
            d, transport=httpx.MockTransport(ChatOnlyAzure() if d.name == "tiny-chat" else openai_compatible)
        ),
    )
    assert statuses["tiny-chat"].info is not None and statuses["tiny-chat"].info.model_name == "tiny"
    assert statuses["tiny-chat"].api_version == "2024-05-01-preview"
    assert statuses["tiny-chat"].reachable and statuses["tiny-chat"].round_trip_s is not None
    assert statuses["ollama"].models == ["llama3", "qwen"]
    assert statuses["ollama"].api_version is None
    assert statuses["ollama"].endpoint == "http://127.0.0.1:11434/v1"


def test_check_of_a_closed_port_is_unreachable_with_a_reason() -> None:
    status = check_all([_deployment("gone", endpoint=f"http://127.0.0.1:{_closed_port()}")], timeout_s=2)["gone"]
    assert not status.reachable
    assert status.round_trip_s is None
    assert status.error


def test_auth_mode_names_the_source_never_the_key() -> None:
    keyed = _deployment(key="sk-very-secret", key_source="environment")
    assert auth_mode(keyed) == "key (from environment)"
    assert "sk-very-secret" not in auth_mode(keyed)
    assert auth_mode(_deployment()) == "no key"
    assert auth_mode(_deployment(auth="entra")) == "Entra ID token"
    assert display_endpoint("https://user:pw@host.example:8443/models?sig=xyz") == "https://host.example:8443/models"


@pytest.mark.parametrize("capability", [c.key for c in CAPABILITIES if c.needs_chat])
def test_parameter_capabilities_name_a_request_parameter(capability: str) -> None:
    assert next(c for c in CAPABILITIES if c.key == capability).param


def test_one_capability_can_be_probed_alone() -> None:
    client = InferenceClient(_deployment(), transport=httpx.MockTransport(ChatOnlyAzure()))
    assert probe_capability(client, "embeddings").status is Status.NOT_SUPPORTED
    assert probe_capability(client, "seed").status is Status.SUPPORTED
    with pytest.raises(ValueError, match="unknown capability"):
        probe_capability(client, "telepathy")
