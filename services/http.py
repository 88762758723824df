"""Request building per api kind: URL, api-version, headers, auth and body (no I/O here)."""

from __future__ import annotations

import base64
import contextlib
import functools
import socket
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel

from services.config import Deployment
from services.schemas import ImageInput

USER_AGENT = "model-playground/0.1 (httpx)"
DEFAULT_API_VERSIONS: dict[str, str | None] = {
    "azure-inference": "2024-05-01-preview",
    "azure-openai": "2024-10-21",
    "openai": None,
    "github": None,
}
SCOPE_ML = "https://ml.azure.com/.default"
SCOPE_COGNITIVE = "https://cognitiveservices.azure.com/.default"
_COGNITIVE_HOSTS = (".services.ai.azure.com", ".cognitiveservices.azure.com", ".openai.azure.com")

CHAT_PARAMS = frozenset(
    {"temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed"}
    | {"response_format", "tools", "tool_choice", "model"}
)
# OpenAI's classic /completions: a raw prompt continued (no `messages`, no tools or response_format).
COMPLETION_PARAMS = frozenset(
    {"temperature", "top_p", "max_tokens", "presence_penalty", "frequency_penalty", "stop", "seed"}
    | {"echo", "logprobs", "suffix", "model"}
)
EMBED_PARAMS = frozenset({"dimensions", "encoding_format", "input_type", "model"})
EXTRA_PARAMETER_MODES = ("pass-through", "drop", "error")
# Kinds whose endpoint understands the `extra-parameters` header (Azure AI Model Inference and GitHub Models).
_EXTRA_HEADER_KINDS = ("azure-inference", "github")


class TokenCredential(Protocol):
    """What azure-identity credentials offer: `get_token(scope)` returning an object with `token` and `expires_on`."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any: ...


def entra_scope(deployment: Deployment) -> str:
    """The Entra ID scope for the endpoint kind: Cognitive Services for Foundry / Azure OpenAI, ML otherwise."""
    host = (urlsplit(deployment.endpoint).hostname or "").lower()
    if deployment.api in ("azure-openai", "openai") or host.endswith(_COGNITIVE_HOSTS):
        return SCOPE_COGNITIVE
    return SCOPE_ML


@dataclass
class EntraAuth:
    """A bearer token from a credential (DefaultAzureCredential unless given), cached until shortly before expiry."""

    scope: str
    credential: TokenCredential | None = None
    _token: str | None = field(default=None, repr=False)
    _expires_on: float = 0.0

    def _credential(self) -> TokenCredential:
        if self.credential is None:
            from azure.identity import DefaultAzureCredential  # imported late: slow, and only entra needs it

            self.credential = DefaultAzureCredential()
        return self.credential

    def cached_token(self) -> str | None:
        """The token last fetched (None before the first call), so errors can be masked of it."""
        return self._token

    def token(self) -> str:
        """A valid access token, fetched again when less than a minute remains."""
        if self._token is None or time.time() > self._expires_on - 60:
            access = self._credential().get_token(self.scope)
            self._token, self._expires_on = access.token, float(access.expires_on)
        return self._token


def api_version(deployment: Deployment) -> str | None:
    """The api-version query value: the configured one, else the kind's default (None: none sent)."""
    return deployment.api_version or DEFAULT_API_VERSIONS[deployment.api]


def build_url(deployment: Deployment, route: str, query: Mapping[str, str] | None = None) -> httpx.URL:
    """The endpoint URL as given plus the route, with `api-version` when the kind needs it."""
    params = dict(query or {})
    version = api_version(deployment)
    if version:
        params["api-version"] = version
    return _url(deployment.endpoint + route, tuple(params.items()))


@functools.lru_cache(maxsize=512)
def _url(address: str, params: tuple[tuple[str, str], ...]) -> httpx.URL:
    # Parsing and quoting a URL costs tens of microseconds a call; the same few URLs come back all the time, and an
    # httpx.URL never changes, so one object serves every call to it.
    return httpx.URL(address, params=dict(params))


def new_request_id() -> str:
    return str(uuid.uuid4())


def build_headers(
    deployment: Deployment,
    *,
    request_id: str,
    stream: bool = False,
    extra_parameters: str | None = None,
    bearer_token: str | None = None,
) -> dict[str, str]:
    """Headers for one call; auth headers only when there is a key (or an Entra token). The only place extra header
    values are unwrapped, because they go on the wire."""
    headers = {
        "accept": "text/event-stream" if stream else "application/json",
        "user-agent": USER_AGENT,
        "x-ms-client-request-id": request_id,
    }
    headers.update(deployment.header_values())
    if deployment.azureml_deployment:
        headers["azureml-model-deployment"] = deployment.azureml_deployment
    if extra_parameters and deployment.api in _EXTRA_HEADER_KINDS:
        headers["extra-parameters"] = extra_parameters
    if deployment.auth == "entra":
        if bearer_token:
            headers["authorization"] = f"Bearer {bearer_token}"
    elif deployment.key is not None:
        key = deployment.key.get_secret_value()
        if deployment.api in ("azure-inference",):
            headers["authorization"] = f"Bearer {key}"
            headers["api-key"] = key
        elif deployment.api == "azure-openai":
            headers["api-key"] = key
        else:
            headers["authorization"] = f"Bearer {key}"
    return headers


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_none=True)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def message_dicts(messages: Iterable[Any]) -> list[dict[str, Any]]:
    """Messages as JSON-ready dicts (plain dicts or schemas message objects); at least one is required."""
    result = []
    for message in messages:
        plain = _plain(message)
        if not isinstance(plain, dict) or "role" not in plain:
            raise TypeError(f"a message must be a dict with a 'role' or a services.schemas message, got {message!r}")
        result.append(plain)
    if not result:
        raise ValueError("at least one message is required")
    return result


def split_extras(params: dict[str, Any], known: frozenset[str]) -> tuple[dict[str, Any], dict[str, Any], str | None]:
    """(known params without None values, model_extras, extra-parameters header value)."""
    params = dict(params)
    extras = params.pop("model_extras", None) or {}
    mode = params.pop("extra_parameters", None)
    unknown = sorted(name for name in params if name not in known)
    if unknown:
        raise TypeError(f"unknown parameter {unknown[0]!r}: put model-specific parameters in model_extras")
    if mode is not None and mode not in EXTRA_PARAMETER_MODES:
        raise ValueError(f"extra_parameters must be one of {', '.join(EXTRA_PARAMETER_MODES)}, got {mode!r}")
    if not isinstance(extras, dict):
        raise TypeError("model_extras must be a dict")
    if extras and mode is None:
        mode = "pass-through"
    return {name: _plain(value) for name, value in params.items() if value is not None}, extras, mode


def chat_body(deployment: Deployment, messages: Iterable[Any], params: dict[str, Any], *, stream: bool) -> tuple:
    """(body, extra-parameters header value) for /chat/completions."""
    known, extras, mode = split_extras(params, CHAT_PARAMS)
    if isinstance(known.get("response_format"), str):
        known["response_format"] = {"type": known["response_format"]}
    return _generation_body(deployment, {"messages": message_dicts(messages)}, known, extras, stream), mode


def completions_body(deployment: Deployment, prompt: str, params: dict[str, Any], *, stream: bool) -> tuple:
    """(body, extra-parameters header value) for /completions (the prompt as given, no chat template)."""
    if not isinstance(prompt, str):
        raise TypeError(f"a prompt must be a str, got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("a prompt is required")
    known, extras, mode = split_extras(params, COMPLETION_PARAMS)
    return _generation_body(deployment, {"prompt": prompt}, known, extras, stream), mode


def _generation_body(
    deployment: Deployment, body: dict[str, Any], known: dict[str, Any], extras: dict[str, Any], stream: bool
) -> dict[str, Any]:
    """`body` (the content) with the model, the known parameters, the stream flags and the extras, in that order."""
    if isinstance(known.get("stop"), str):
        known["stop"] = [known["stop"]]
    if deployment.model:
        body["model"] = deployment.model
    body.update(known)
    if stream:
        body["stream"] = True
        # OpenAI-style servers send usage in the last chunk only when asked.
        if deployment.api in ("openai", "azure-openai"):
            body["stream_options"] = {"include_usage": True}
    # With `drop` the service removes extras itself; they are still sent so the choice stays the service's.
    body.update(extras)
    return body


def embed_body(deployment: Deployment, inputs: list[Any], params: dict[str, Any]) -> tuple:
    """(body, extra-parameters header value) for /embeddings and /images/embeddings."""
    known, extras, mode = split_extras(params, EMBED_PARAMS)
    body: dict[str, Any] = {"input": inputs}
    if deployment.model:
        body["model"] = deployment.model
    body.update(known)
    body.update(extras)
    return body, mode


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


def image_format(data: bytes) -> str:
    """The image format from its first bytes; ValueError if it is not an image the API takes."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    raise ValueError("not a recognised image (expected PNG, JPEG, GIF, BMP, WEBP or TIFF bytes)")


def image_data_url(image: bytes | Path | str) -> str:
    """A `data:image/<fmt>;base64,...` URL from bytes, a file path or an existing data URL."""
    if isinstance(image, str) and image.startswith("data:"):
        if not image.startswith("data:image/") or ";base64," not in image:
            raise ValueError("an image data URL must look like data:image/<format>;base64,<data>")
        return image
    if isinstance(image, str | Path):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image file not found: {path}")
        image = path.read_bytes()
    if not isinstance(image, bytes | bytearray):
        raise TypeError(f"an image must be bytes, a path or a data URL, got {type(image).__name__}")
    return f"data:image/{image_format(bytes(image))};base64,{base64.b64encode(image).decode('ascii')}"


def image_inputs(images: Iterable[ImageInput | bytes | Path | str]) -> list[dict[str, str]]:
    """The `input` list of /images/embeddings."""
    result = []
    for item in images:
        entry = item if isinstance(item, ImageInput) else ImageInput(image=item)
        payload = {"image": image_data_url(entry.image)}
        if entry.text is not None:
            payload["text"] = entry.text
        result.append(payload)
    if not result:
        raise ValueError("at least one image is required")
    return result


def timeout_for(deployment: Deployment) -> httpx.Timeout:
    return httpx.Timeout(
        connect=deployment.connect_timeout,
        read=deployment.read_timeout,
        write=deployment.read_timeout,
        pool=deployment.connect_timeout,
    )


def host_of(deployment: Deployment) -> str:
    parts = urlsplit(deployment.endpoint)
    return parts.netloc or deployment.endpoint


def shutdown_socket(response: httpx.Response) -> None:
    """Shut down the socket under a streaming response so that a read blocked in another thread returns at once."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
