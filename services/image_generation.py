"""Image generation (`/images/generations`) in the dialects the deployment kinds speak, for InferenceClient.

- Azure OpenAI (`api = "azure-openai"`): `<endpoint>/images/generations?api-version=...` where the endpoint is
  `.../openai/deployments/<name>`, `api-key` auth, OpenAI's parameters (dall-e-3, gpt-image-1).
- Azure AI Model Inference (`azure-inference`): `<endpoint>/images/generations?api-version=...`, the contract's
  ImageGenerationOptions (`prompt`, `size`, `quality`, `response_format`, `seed`, `model` on multi-model
  endpoints); every other parameter is an extra one, sent with `extra-parameters: pass-through`.
- OpenAI and OpenAI-compatible servers, GitHub Models (`openai`, `github`): `<endpoint>/images/generations`, Bearer.

Unset parameters are not sent. The answer's images come back with their bytes: `b64_json` decoded, a `url` fetched by
the client itself with its timeouts, its address guard and a size limit, and only from the endpoint's own origin (an
answer must not be able to point the server at another host). Every HTTP call, the url fetches too, is a span.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from PIL import Image

from services import http
from services.calls import Call
from services.config import Deployment
from services.errors import ImageFetchError, InferenceError, InvalidRequestError, MalformedResponseError
from services.image_schemas import GeneratedImage, ImageGenerationResult
from services.metrics import Stopwatch
from services.schemas import Usage
from services.transport import refusal_of

if TYPE_CHECKING:
    from services.client import InferenceClient

ROUTE = "/images/generations"
OPERATION = "image_generation"
# OpenAI's request parameters (Azure OpenAI, OpenAI-compatible servers, GitHub Models); `seed` is not OpenAI's but
# the Azure contract's, and FLUX / Stable Diffusion servers take it too.
IMAGE_PARAMS = frozenset(
    {"model", "n", "size", "quality", "style", "response_format", "user", "background", "output_format"}
    | {"output_compression", "moderation", "seed"}
)
# The Azure AI Model Inference contract's ImageGenerationOptions: anything else is an extra parameter there.
AZURE_INFERENCE_PARAMS = frozenset({"model", "size", "quality", "response_format", "seed"})
MAX_IMAGE_MB_ENV = "PLAYGROUND_GENERATED_IMAGE_MAX_MB"
DEFAULT_MAX_IMAGE_BYTES = 32 * 2**20
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


def max_image_bytes_from_env(environ: Mapping[str, str] = os.environ) -> int:
    """The largest image a `url` answer may be (PLAYGROUND_GENERATED_IMAGE_MAX_MB, default 32 MB)."""
    raw = environ.get(MAX_IMAGE_MB_ENV, "").strip()
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        value = 0.0
    return int(value * 2**20) if value > 0 else DEFAULT_MAX_IMAGE_BYTES


@dataclass(frozen=True)
class Dialect:
    """How one kind of deployment asks for images: the parameters it defines and whether extras need the header."""

    name: str
    params: frozenset[str]
    extras_need_header: bool


def dialect_of(deployment: Deployment) -> Dialect:
    """The image dialect of the deployment's kind."""
    if deployment.api == "azure-inference":
        return Dialect("azure-inference", AZURE_INFERENCE_PARAMS, True)
    if deployment.api == "azure-openai":
        return Dialect("azure-openai", IMAGE_PARAMS, False)
    return Dialect("openai", IMAGE_PARAMS, deployment.api == "github")


def request_body(deployment: Deployment, prompt: str, params: dict[str, Any]) -> tuple[dict[str, Any], str | None, int]:
    """(body, extra-parameters header value, url size limit) for a generation; only the parameters set are sent.

    `model_extras` (e.g. `{"negative_prompt": ...}`) go into the body's top level; on the Azure inference contract the
    OpenAI parameters it does not define (n, style, user, background, ...) are extras as well, so the header says
    `pass-through` unless `extra_parameters` says otherwise. `max_image_bytes` is the client's own limit (not sent)."""
    if not isinstance(prompt, str):
        raise TypeError(f"a prompt must be a str, got {type(prompt).__name__}")
    if not prompt.strip():
        raise ValueError("a prompt is required")
    params = dict(params)
    limit = params.pop("max_image_bytes", None)
    if limit is not None and (not isinstance(limit, int) or limit <= 0):
        raise ValueError(f"max_image_bytes must be a positive number of bytes, got {limit!r}")
    known, extras, mode = http.split_extras(params, IMAGE_PARAMS)
    body: dict[str, Any] = {"prompt": prompt}
    if deployment.model:
        body["model"] = deployment.model
    body.update(known)
    dialect = dialect_of(deployment)
    if mode is None and any(name not in dialect.params for name in known) and dialect.name == "azure-inference":
        mode = "pass-through"
    body.update(extras)
    return body, mode, limit or max_image_bytes_from_env()


# --- the answer ----------------------------------------------------------------------------------------------------


def describe_image(raw: bytes) -> tuple[str, int, int]:
    """(format, width, height) of image bytes, from their content; ValueError when they are not an image."""
    kind = http.image_format(raw)
    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
    except Exception as exc:  # Pillow raises several unrelated types for broken files
        raise ValueError(f"{kind} bytes that cannot be read ({type(exc).__name__})") from None
    return kind, int(width), int(height)


def _usage(data: Any) -> Usage | None:
    """gpt-image-1's `input_tokens`/`output_tokens` as prompt/completion tokens (the names chat's usage has)."""
    if not isinstance(data, dict):
        return None
    prompt = int(data.get("input_tokens") or data.get("prompt_tokens") or 0)
    output = int(data.get("output_tokens") or data.get("completion_tokens") or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=output, total_tokens=int(data.get("total_tokens") or 0))


def parse_answer(
    data: dict[str, Any], clock: Stopwatch, *, prompt: str, deployment: str, request_id: str
) -> ImageGenerationResult:
    """The images of an answer in its order: `b64_json` decoded (and checked to be an image), `url` ones still to
    be fetched (empty `data`)."""

    def malformed(message: str) -> MalformedResponseError:
        return MalformedResponseError(message, deployment=deployment, request_id=request_id)

    items = data.get("data")
    if not isinstance(items, list):
        raise malformed(f"{ROUTE} answer has no data list")
    if not items:
        raise malformed(f"{ROUTE} answered without any image")
    images = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise malformed(f"image {index + 1} of the answer is not an object")
        common: dict[str, Any] = {
            "index": index,
            "revised_prompt": item.get("revised_prompt") if isinstance(item.get("revised_prompt"), str) else None,
            "content_filter_results": item.get("content_filter_results")
            if isinstance(item.get("content_filter_results"), dict)
            else None,
        }
        encoded, url = item.get("b64_json"), item.get("url")
        if isinstance(encoded, str) and encoded:
            try:
                raw = base64.b64decode(encoded, validate=True)
                kind, width, height = describe_image(raw)
            except (binascii.Error, ValueError) as exc:
                raise malformed(f"image {index + 1} of the answer is not a base64 image ({exc})") from None
            images.append(GeneratedImage(data=raw, format=kind, width=width, height=height, **common))
        elif isinstance(url, str) and url:
            images.append(GeneratedImage(source="url", url=url, **common))
        else:
            raise malformed(f"image {index + 1} of the answer has neither b64_json nor url")
    first = items[0]
    prompt_filter = first.get("prompt_filter_results") if isinstance(first, dict) else None
    usage = _usage(data.get("usage"))
    created = data.get("created")
    return ImageGenerationResult(
        prompt=prompt,
        images=images,
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        response_id=data.get("id") if isinstance(data.get("id"), str) else None,
        created=created if isinstance(created, int) else None,
        usage=usage,
        echoed={k: data[k] for k in ("size", "quality", "background", "output_format") if isinstance(data.get(k), str)},
        prompt_filter_results=prompt_filter if isinstance(prompt_filter, dict) else None,
        metrics=clock.metrics(request_id=request_id, usage=usage, finish_reason=None, generated=False),
    )


# --- the calls -----------------------------------------------------------------------------------------------------


def generate(client: InferenceClient, prompt: str, params: dict[str, Any]) -> ImageGenerationResult:
    """One generation through `client` (its retries, errors and spans), with every `url` image fetched."""
    body, mode, limit = request_body(client.deployment, prompt, params)
    call = client._planner.generate_images(body, mode)
    data = client._json(call)
    name = client.deployment.name
    result: ImageGenerationResult = client._parsed(
        call, lambda: parse_answer(data, call.clock, prompt=prompt, deployment=name, request_id=call.request_id)
    )
    if all(image.fetched for image in result.images):
        return result
    # The answer's span is recorded as it came; each fetch is a span of its own, and the result a new object.
    images = [image if image.fetched else fetch_image(client, call, image, limit) for image in result.images]
    call.clock.stop()
    metrics = call.clock.metrics(request_id=call.request_id, usage=result.usage, finish_reason=None, generated=False)
    return result.model_copy(update={"images": images, "metrics": metrics})


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme)


def fetch_image(client: InferenceClient, answered: Call, image: GeneratedImage, limit: int) -> GeneratedImage:
    """The image at `image.url` (GET on the endpoint's own origin only, through the client's guarded transport, at
    most `limit` bytes, never redirected); a span of its own in the generation's trace."""
    planner = client._planner
    name = client.deployment.name
    try:
        url = httpx.URL(image.url or "")
        host = url.host
    except (httpx.InvalidURL, TypeError):
        url, host = httpx.URL(client.deployment.endpoint), ""
    call = Call(
        method="GET",
        route=url.path or "/",  # never the query: a signed url's signature is a secret
        url=url,
        body=None,
        request_id=http.new_request_id(),
        stream=True,
        extra_parameters=None,
        clock=Stopwatch(answered.action.trace_id),
        operation=OPERATION,
        action=answered.action,
        attempt=1,
        attempt_ns=time.time_ns(),
    )
    number = image.index + 1

    def failed(error: InferenceError, status: int | None = None) -> InferenceError:
        planner.span(call, "error", http_status=status, error=planner.redact(error))
        return error

    def fetch_error(reason: str, message: str, status: int | None = None) -> ImageFetchError:
        return ImageFetchError(
            f"image {number} could not be fetched: {message}",
            host=host or "(no host)",
            reason=reason,
            deployment=name,
            status=status,
            request_id=call.request_id,
        )

    if not host or url.scheme not in _DEFAULT_PORTS:
        raise failed(fetch_error("not an http(s) url", "the answer's url is not an http(s) address"))
    endpoint = httpx.URL(client.deployment.endpoint)
    if _origin(url) != _origin(endpoint):
        raise failed(
            fetch_error(
                "another host",
                f"the answer points to {host}, not to the endpoint's own host {endpoint.host}, and images are only "
                "fetched from there; ask for response_format b64_json to get the image in the answer itself",
            )
        )
    try:
        token = planner.token_or_error(call)
    except InferenceError as err:
        raise failed(err) from None
    headers = {**client._client_headers, **planner.headers(call, token), "accept": "image/*"}
    request = httpx.Request("GET", url, headers=headers, extensions=client._extensions)
    try:
        response = client._transmit(request, stream=True)
    except httpx.HTTPError as exc:
        refused = refusal_of(exc)
        error = planner.blocked_error(call, refused) if refused is not None else planner.transport_error(call, exc)
        raise failed(error) from None
    status = response.status_code
    try:
        if 300 <= status < 400:
            raise failed(planner.redirect_error(call, status, response.headers), status)
        if status >= 400:
            raise failed(fetch_error(f"HTTP {status}", f"{host} answered HTTP {status}", status), status)
        raw = _read_limited(response, limit, lambda m: failed(fetch_error("too large", m), status))
    except httpx.HTTPError as exc:
        raise failed(planner.transport_error(call, exc), status) from None
    finally:
        response.close()
    try:
        kind, width, height = describe_image(raw)
    except ValueError as exc:
        raise failed(fetch_error("not an image", f"what {host} sent is not an image ({exc})", status), status) from None
    call.http_status = status
    fetched = image.model_copy(update={"data": raw, "format": kind, "width": width, "height": height})
    planner.span(call, "ok", result=fetched)
    return fetched


def _read_limited(response: httpx.Response, limit: int, too_large: Any) -> bytes:
    """The body, refused as soon as it is known to be larger than `limit` (by its length header, else as it comes)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(f"it is {int(declared):,} bytes, more than the limit of {limit:,}")
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise too_large(f"it is more than the limit of {limit:,} bytes")
        parts.append(chunk)
    return b"".join(parts)


def probe_route(client: InferenceClient) -> None:
    """Whether the deployment generates images, without generating one: an empty prompt is sent, which a generator
    refuses (400/422) before drawing anything, so nothing is billed. Returns when the route answered like an image
    generator (a refusal of the request, or images); raises the route's error (404, OperationNotSupported, ...)."""
    body: dict[str, Any] = {"prompt": ""}
    if client.deployment.model:
        body["model"] = client.deployment.model
    call = client._planner.generate_images(body, None)
    try:
        data = client._json(call)
    except InvalidRequestError as err:
        # A 404/405/424 or Azure OpenAI's OperationNotSupported is a ModalityNotSupportedError, not caught here.
        if err.status in (400, 422):
            return  # the route exists and checked the request (a content filter on it says the same)
        raise
    name = client.deployment.name
    client._parsed(call, lambda: parse_answer(data, call.clock, prompt="", deployment=name, request_id=call.request_id))
