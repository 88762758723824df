"""generate_images() against the image server on loopback: each dialect's request and answer, every error typed, the
`url` path with its same-origin rule and size limit, and the spans each call leaves."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from services import tracing
from services.client import InferenceClient
from services.config import Deployment
from services.errors import (
    AuthenticationError,
    ContentFilterError,
    ImageFetchError,
    MalformedResponseError,
    ModalityNotSupportedError,
    RateLimitError,
    UnsupportedParameterError,
)
from services.image_generation import probe_route
from services.retry import RetryPolicy
from services.store.location import data_dir
from services.store.traces import TraceStore
from tests.fixtures.fault_server import FaultServer, Reply
from tests.fixtures.image_server import BLOCKED_WORD, ImageEndpoint, ImageServer

KEY = "img-test-key-0123456789abcdef"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
RATE_LIMITED = Reply(
    status=429,
    json={
        "error": {
            "code": "429",
            "message": "Requests to the ImageGenerations_Create Operation have exceeded the "
            "call rate limit of your current pricing tier.",
        }
    },
    headers={"retry-after": "0"},
)


def client_for(endpoint: ImageEndpoint, **fields: Any) -> InferenceClient:
    api = {"azure-inference": "azure-inference", "azure-openai": "azure-openai", "openai": "openai"}[endpoint.dialect]
    values: dict[str, Any] = {"name": f"{endpoint.model}-dep", "endpoint": endpoint.url, "api": api}
    if endpoint.key:
        values["key"] = endpoint.key
    values.update(fields)
    return InferenceClient(Deployment(**values), retry_policy=FAST)


def pixels(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.format or "", image.size


# --- each dialect's request ------------------------------------------------------------------------------------------


def test_azure_openai_request_goes_to_the_deployment_route_with_api_key_and_only_the_set_parameters(
    image_server: ImageServer,
) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", key=KEY)
    with client_for(endpoint) as client:
        client.generate_images("a lighthouse", response_format="b64_json")
        client.generate_images("a lighthouse", size="1792x1024", quality="hd", style="natural", user="u-1")
    first, second = endpoint.generations
    assert first.path == "/openai/deployments/dall-e-3/images/generations"
    assert first.query == {"api-version": "2024-10-21"}
    assert first.headers["api-key"] == KEY and "authorization" not in first.headers
    assert "extra-parameters" not in first.headers
    assert first.json() == {"prompt": "a lighthouse", "response_format": "b64_json"}
    body = second.json()
    assert body == {"prompt": "a lighthouse", "size": "1792x1024", "quality": "hd", "style": "natural", "user": "u-1"}


def test_azure_inference_sends_the_contract_options_and_the_rest_as_pass_through_extras(
    image_server: ImageServer,
) -> None:
    endpoint = image_server.endpoint("azure-inference", "flux-1", key=KEY)
    with client_for(endpoint, model="flux-1") as client:
        plain = client.generate_images("a fox", size="1024x1024", seed=7, quality="hd")
        extras = client.generate_images(
            "a fox", size="1024x1024", n=2, model_extras={"negative_prompt": "blurry, text"}
        )
    first, second = endpoint.generations
    assert first.path == "/images/generations" and first.query == {"api-version": "2024-05-01-preview"}
    assert first.headers["authorization"] == f"Bearer {KEY}" and first.headers["api-key"] == KEY
    assert first.json() == {"prompt": "a fox", "model": "flux-1", "size": "1024x1024", "seed": 7, "quality": "hd"}
    assert "extra-parameters" not in first.headers  # only the contract's own options
    assert second.headers["extra-parameters"] == "pass-through"
    assert second.json() == {
        "prompt": "a fox",
        "model": "flux-1",
        "size": "1024x1024",
        "n": 2,
        "negative_prompt": "blurry, text",
    }
    assert len(plain.images) == 1 and len(extras.images) == 2
    assert plain.model == "flux-1" and plain.response_id and plain.response_id.startswith("img-")


def test_openai_dialect_uses_bearer_and_the_v1_route(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("openai", "dall-e-3", key=KEY)
    with client_for(endpoint, model="dall-e-3") as client:
        client.generate_images("a kite", response_format="b64_json")
    (seen,) = endpoint.generations
    assert seen.path == "/v1/images/generations" and seen.query == {}
    assert seen.headers["authorization"] == f"Bearer {KEY}" and "api-key" not in seen.headers
    assert seen.json() == {"prompt": "a kite", "model": "dall-e-3", "response_format": "b64_json"}


def test_parameters_outside_the_api_and_empty_prompts_are_refused_before_sending(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3")
    with client_for(endpoint) as client:
        with pytest.raises(TypeError, match="negative_prompt"):
            client.generate_images("x", negative_prompt="blurry")
        with pytest.raises(ValueError, match="prompt"):
            client.generate_images("   ")
        with pytest.raises(ValueError, match="max_image_bytes"):
            client.generate_images("x", max_image_bytes=0)
    assert endpoint.requests == []


# --- answers ---------------------------------------------------------------------------------------------------------


def test_dall_e_3_answer_holds_the_image_bytes_the_revised_prompt_and_the_filter_results(
    image_server: ImageServer,
) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3")
    with client_for(endpoint) as client:
        result = client.generate_images("a red fox", size="1024x1792", response_format="b64_json")
    (image,) = result.images
    assert pixels(image.data) == ("PNG", (1024, 1792))
    assert (image.format, image.width, image.height, image.size, image.source) == (
        "png",
        1024,
        1792,
        "1024x1792",
        "b64_json",
    )
    assert image.revised_prompt == "A detailed picture of a red fox." and result.revised_prompts == [
        image.revised_prompt
    ]
    assert image.content_filter_results is not None and image.content_filter_results["violence"]["filtered"] is False
    assert result.prompt_filter_results is not None and "profanity" in result.prompt_filter_results
    assert result.prompt == "a red fox" and result.usage is None
    assert (
        result.metrics.total_s > 0
        and result.metrics.request_id == endpoint.generations[0].headers["x-ms-client-request-id"]
    )


def test_gpt_image_1_answer_has_usage_in_tokens_and_several_images_in_the_asked_format(
    image_server: ImageServer,
) -> None:
    endpoint = image_server.endpoint("azure-openai", "gpt-image-1")
    with client_for(endpoint) as client:
        result = client.generate_images("a cat", n=3, size="1536x1024", output_format="webp", background="opaque")
    assert [pixels(image.data) for image in result.images] == [("WEBP", (1536, 1024))] * 3
    assert [image.index for image in result.images] == [0, 1, 2]
    assert result.usage is not None
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (12, 816, 828)
    assert result.echoed == {"size": "1536x1024", "quality": "high", "background": "opaque", "output_format": "webp"}
    # A download is always a PNG, whatever the endpoint drew.
    assert pixels(result.images[0].png()) == ("PNG", (1536, 1024))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"created": 1}, "no data list"),
        ({"created": 1, "data": []}, "without any image"),
        ({"created": 1, "data": [{"b64_json": "not base64!!"}]}, "not a base64 image"),
        ({"created": 1, "data": [{"b64_json": base64.b64encode(b"plain text").decode()}]}, "not a base64 image"),
        ({"created": 1, "data": [{"revised_prompt": "x"}]}, "neither b64_json nor url"),
    ],
)
def test_answers_that_are_not_images_are_malformed(fault_server: FaultServer, body: dict, expected: str) -> None:
    scenario = fault_server.scenario(Reply(json=body))
    deployment = Deployment(name="odd", endpoint=scenario.endpoint, api="openai")
    with InferenceClient(deployment) as client, pytest.raises(MalformedResponseError, match=expected):
        client.generate_images("x")


# --- errors, typed -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "model", "params", "param", "invalid_value"),
    [
        ("azure-openai", "dall-e-3", {"size": "512x512"}, "size", True),  # invalid_value with param
        ("openai", "dall-e-3", {"size": "512x512"}, "size", True),  # OpenAI's "... - 'size'" with param null
        ("azure-openai", "dall-e-3", {"n": 2}, "n", True),
        ("azure-openai", "gpt-image-1", {"style": "vivid"}, "style", False),  # unknown_parameter
        ("azure-openai", "gpt-image-1", {"response_format": "url"}, "response_format", False),
        ("azure-inference", "flux-1", {"size": "1024x1024", "n": 2, "extra_parameters": "error"}, "n", False),
        ("azure-inference", "flux-1", {"size": "100x100"}, "size", True),
    ],
)
def test_refused_sizes_and_parameters_are_named(
    image_server: ImageServer, dialect: str, model: str, params: dict, param: str, invalid_value: bool
) -> None:
    endpoint = image_server.endpoint(dialect, model)
    with client_for(endpoint, model=model) as client, pytest.raises(UnsupportedParameterError) as caught:
        client.generate_images("a boat", **params)
    error = caught.value
    assert (error.param, error.invalid_value, error.status) == (param, invalid_value, endpoint_status(dialect))
    sent = {k: v for k, v in params.items() if k != "extra_parameters"}
    assert error.value == sent[param]
    assert len(endpoint.generations) == 1  # a refusal is not retried


def endpoint_status(dialect: str) -> int:
    return 422 if dialect == "azure-inference" else 400


@pytest.mark.parametrize(("dialect", "model"), [("azure-openai", "dall-e-3"), ("azure-inference", "flux-1")])
def test_the_image_content_filter_is_a_content_filter_error_with_its_categories(
    image_server: ImageServer, dialect: str, model: str
) -> None:
    endpoint = image_server.endpoint(dialect, model)
    with client_for(endpoint) as client, pytest.raises(ContentFilterError) as caught:
        client.generate_images(f"a {BLOCKED_WORD}", size="1024x1024")
    error = caught.value
    assert error.filtered_categories == ["violence"]
    assert error.categories["violence"] == {"filtered": True, "severity": "high"}
    assert error.categories["hate"] == {"filtered": False, "severity": "safe"}
    assert "filtered: violence" in str(error)


def test_openai_moderation_block_is_a_content_filter_error_without_categories(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("openai", "gpt-image-1")
    with client_for(endpoint, model="gpt-image-1") as client, pytest.raises(ContentFilterError) as caught:
        client.generate_images(f"a {BLOCKED_WORD}")
    assert caught.value.code == "moderation_blocked" and caught.value.categories == {}


def test_a_429_is_retried_after_its_wait_and_the_answer_says_so(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "gpt-image-1").script(RATE_LIMITED)
    with client_for(endpoint) as client:
        result = client.generate_images("a cat")
    assert len(endpoint.generations) == 2 and len(result.images) == 1
    assert (result.metrics.retries, result.metrics.retry_reasons) == (1, ["429"])


def test_a_429_after_the_retry_budget_is_a_rate_limit_error_with_its_wait(image_server: ImageServer) -> None:
    limited = Reply(status=429, json=RATE_LIMITED.json, headers={"retry-after": "7"})
    endpoint = image_server.endpoint("azure-openai", "gpt-image-1").script(limited)
    with client_for(endpoint, max_retries=0) as client, pytest.raises(RateLimitError) as caught:
        client.generate_images("a cat")
    assert caught.value.retry_after == 7 and caught.value.status == 429


def test_a_deployment_without_image_generation_is_modality_not_supported(image_server: ImageServer) -> None:
    chat = image_server.endpoint("azure-openai", "gpt-4o")
    with client_for(chat) as client, pytest.raises(ModalityNotSupportedError) as caught:
        client.generate_images("a cat")
    assert (caught.value.route, caught.value.status, caught.value.code) == (
        "/images/generations",
        400,
        "OperationNotSupported",
    )
    other = image_server.endpoint("openai", "llama-3")
    with client_for(other, model="llama-3") as client, pytest.raises(ModalityNotSupportedError):
        client.generate_images("a cat")


def test_a_wrong_key_is_an_authentication_error_naming_where_the_key_came_from(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", key=KEY)
    wrong = client_for(endpoint, key="wrong-key-000000", key_source="environment")
    with wrong, pytest.raises(AuthenticationError) as caught:
        wrong.generate_images("a cat")
    assert caught.value.key_source == "environment" and "wrong-key-000000" not in str(caught.value)


def test_the_probe_finds_image_generation_without_generating_anything(image_server: ImageServer) -> None:
    for dialect, model in (("azure-openai", "dall-e-3"), ("azure-inference", "flux-1"), ("openai", "gpt-image-1")):
        endpoint = image_server.endpoint(dialect, model)
        with client_for(endpoint, model=model) as client:
            probe_route(client)  # returns: the route refused the empty prompt
        assert [seen.json()["prompt"] for seen in endpoint.generations] == [""]
    chat = image_server.endpoint("azure-openai", "gpt-4o")
    with client_for(chat) as client, pytest.raises(ModalityNotSupportedError):
        probe_route(client)


# --- url answers ---------------------------------------------------------------------------------------------------


def test_a_url_answer_is_fetched_from_the_endpoints_own_host(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", key=KEY)
    with client_for(endpoint) as client:
        result = client.generate_images("a harbour")  # dall-e-3 answers with a url unless asked for b64_json
    (image,) = result.images
    (fetch,) = endpoint.fetches
    served, _ = endpoint.files[fetch.path.rsplit("/", 1)[-1]]
    assert image.source == "url" and image.data == served and pixels(image.data) == ("PNG", (1024, 1024))
    assert fetch.query["sig"].startswith("SIGNATURE-")  # the signed url is fetched as given
    assert image.revised_prompt == "A detailed picture of a harbour."
    assert result.metrics.total_s > 0


def test_a_url_on_another_host_is_never_fetched(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", other_host=True)
    with client_for(endpoint) as client, pytest.raises(ImageFetchError) as caught:
        client.generate_images("a harbour")
    assert (caught.value.host, caught.value.reason) == ("localhost", "another host")
    assert "b64_json" in str(caught.value) and "SIGNATURE" not in str(caught.value)
    assert endpoint.fetches == []  # not a single byte was asked of the other host


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_url_image_larger_than_the_limit_is_refused(image_server: ImageServer, chunked: bool) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", big_images=True, chunked=chunked)
    with client_for(endpoint) as client:
        with pytest.raises(ImageFetchError) as caught:
            client.generate_images("noise", max_image_bytes=256 * 1024)
        assert caught.value.reason == "too large"
        # Under the default limit the same (three megabyte) image arrives whole.
        big = client.generate_images("noise")
    assert len(big.images[0].data) > 3_000_000 and pixels(big.images[0].data) == ("PNG", (1024, 1024))


def test_a_url_that_serves_something_else_or_an_error_is_an_image_fetch_error(image_server: ImageServer) -> None:
    html = image_server.endpoint("azure-openai", "dall-e-3", url_body=b"<html>expired</html>")
    with client_for(html) as client, pytest.raises(ImageFetchError) as caught:
        client.generate_images("x")
    assert (caught.value.reason, caught.value.host) == ("not an image", "127.0.0.1")
    gone = image_server.endpoint("azure-openai", "dall-e-3", url_status=404)
    with client_for(gone) as client, pytest.raises(ImageFetchError) as caught:
        client.generate_images("x")
    assert (caught.value.reason, caught.value.status) == ("HTTP 404", 404)
    assert len(gone.fetches) == 1  # a failed fetch is not retried


# --- spans -----------------------------------------------------------------------------------------------------------


def _spans() -> list[dict[str, Any]]:
    assert tracing.flush(10)
    found = TraceStore(data_dir() / tracing.TRACE_FILE)
    traces = found.traces()
    return [span for trace in traces for span in found.spans(trace["trace_id"])]


def _stored_bytes() -> bytes:
    tracing.flush(10)
    return b"".join(path.read_bytes() for path in Path(data_dir()).glob("traces.sqlite*"))


def test_a_generation_with_a_url_is_two_spans_in_one_trace_without_bytes_or_signatures(
    image_server: ImageServer,
) -> None:
    endpoint = image_server.endpoint("azure-openai", "dall-e-3", key=KEY)
    with tracing.action("image generation"), client_for(endpoint) as client:
        result = client.generate_images("a lighthouse at dusk", quality="hd")
    post, get = sorted(_spans(), key=lambda span: span["start_ns"])
    assert post["trace_id"] == get["trace_id"] == result.metrics.trace_id
    assert (post["operation"], post["route"], post["status"], post["http_status"]) == (
        "image_generation",
        "/images/generations",
        "ok",
        200,
    )
    assert json.loads(post["request"]) == {"params": {"quality": "hd"}, "prompt": "a lighthouse at dusk"}
    answer = json.loads(post["answer"])
    assert answer["count"] == 1 and answer["revised_prompts"] == ["A detailed picture of a lighthouse at dusk."]
    assert answer["images"] == [{"source": "url", "size": None, "format": None, "host": "127.0.0.1"}]
    assert (get["operation"], get["status"], get["http_status"]) == ("image_generation", "ok", 200)
    assert get["route"].startswith("/") and "/files/" in get["route"] and "sig" not in get["route"]
    fetched = json.loads(get["answer"])
    assert (
        fetched["size"] == "1024x1024" and fetched["format"] == "png" and fetched["bytes"] == len(result.images[0].data)
    )
    stored = _stored_bytes()
    assert b"SIGNATURE" not in stored and KEY.encode() not in stored
    assert base64.b64encode(result.images[0].data[:48]) not in stored


def test_gpt_image_tokens_and_cost_reach_the_span_and_a_refusal_is_an_error_span(image_server: ImageServer) -> None:
    endpoint = image_server.endpoint("azure-openai", "gpt-image-1")
    with client_for(endpoint, price_per_1k_input=5.0, price_per_1k_output=40.0) as client:
        result = client.generate_images("a cat", output_format="png")
        with pytest.raises(UnsupportedParameterError):
            client.generate_images("a cat", style="vivid")
    ok, refused = sorted(_spans(), key=lambda span: span["start_ns"])
    assert (ok["input_tokens"], ok["output_tokens"]) == (12, 272)
    assert ok["cost"] == pytest.approx(12 * 5.0 / 1000 + 272 * 40.0 / 1000)
    assert base64.b64encode(result.images[0].data)[:64] not in _stored_bytes()
    assert (refused["status"], refused["error_type"], refused["http_status"]) == (
        "error",
        "UnsupportedParameterError",
        400,
    )
    assert json.loads(refused["error_detail"])["param"] == "style"


def test_with_content_recording_off_no_prompt_or_revised_prompt_is_stored(
    image_server: ImageServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAYGROUND_TRACE_CONTENT", "false")
    endpoint = image_server.endpoint("azure-openai", "dall-e-3")
    with client_for(endpoint) as client:
        client.generate_images("a very private lighthouse", response_format="b64_json")
    (span,) = _spans()
    assert json.loads(span["request"]) == {"params": {"response_format": "b64_json"}, "prompt_count": 1}
    answer = json.loads(span["answer"])
    assert answer["count"] == 1 and "revised_prompts" not in answer
    assert b"private lighthouse" not in _stored_bytes()
