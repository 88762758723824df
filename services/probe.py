"""The capability probe: tiny requests that find out what each deployment supports, deployments in parallel."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from PIL import Image

from services import image_generation, tracing
from services.client import InferenceClient
from services.config import Deployment
from services.errors import (
    AuthenticationError,
    EndpointUnavailableError,
    InferenceError,
    InvalidRequestError,
    ModalityNotSupportedError,
    RateLimitError,
    UnsupportedParameterError,
)
from services.http import api_version
from services.schemas import ModelInfo

DEFAULT_TIMEOUT_S = 30.0
# The identity check runs when the models page opens, so it gives up sooner than a probe.
CHECK_TIMEOUT_S = 10.0
# Parameter probes of one deployment run a few at a time: enough to be quick, few enough not to fill a small queue.
WORKERS_PER_DEPLOYMENT = 3
PROMPT = [{"role": "user", "content": "Reply with the JSON {} only."}]
TEXT_PROMPT = "The JSON {} is"
# The extra parameter sent under pass-through: a sampling knob many model servers know and the API does not define.
EXTRA_PARAMETER = {"top_k": 1}
JSON_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "probe",
        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]},
    },
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Return the current time.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
]


class Status(StrEnum):
    """What the probe learned about one capability of one deployment."""

    SUPPORTED = "supported"
    NOT_SUPPORTED = "not supported"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Capability:
    """One thing the probe asks a deployment to do, and the request parameter it stands for (if any)."""

    key: str
    label: str
    param: str | None
    needs_chat: bool


CAPABILITIES: tuple[Capability, ...] = (
    Capability("chat", "chat", None, False),
    Capability("streaming", "streaming", "stream", True),
    Capability("embeddings", "embeddings", None, False),
    Capability("image_embeddings", "image embeddings", None, False),
    # OpenAI's classic `/completions` (not in the Azure contract; vLLM, llama.cpp, Ollama and the embedded endpoint).
    Capability("text_completion", "text completion", None, False),
    # `/images/generations`, asked with an empty prompt: a generator refuses it before drawing, so nothing is billed.
    Capability("image_generation", "image generation", None, False),
    Capability("json_object", "json_object", "response_format", True),
    Capability("json_schema", "json_schema", "response_format", True),
    Capability("tools", "tools", "tools", True),
    Capability("seed", "seed", "seed", True),
    Capability("stop", "stop", "stop", True),
    Capability("pass_through", "pass-through extra", "model_extras", True),
)
CAPABILITY_BY_KEY = {c.key: c for c in CAPABILITIES}
# After one of these on the first request, every other request would fail the same way: stop there.
_STOP_ERRORS = (EndpointUnavailableError, AuthenticationError, RateLimitError)


@dataclass(frozen=True)
class CapabilityResult:
    """The answer for one deployment x capability: status, the reason in words, and how long the request took."""

    capability: str
    status: Status
    detail: str
    elapsed_s: float | None = None
    # The parameter a 422 named, when the endpoint named one.
    param: str | None = None
    # False when the answer was inferred (chat missing or the endpoint unreachable), not asked.
    probed: bool = True


@dataclass(frozen=True)
class ProbeReport:
    """Every capability of one deployment, with the time the probe started."""

    deployment: str
    probed_at: datetime
    results: dict[str, CapabilityResult] = field(default_factory=dict)
    duration_s: float = 0.0

    def status(self, capability: str) -> Status:
        """The status of one capability (unknown when it was not probed)."""
        result = self.results.get(capability)
        return result.status if result else Status.UNKNOWN


def probe_settings(deployment: Deployment, timeout_s: float = DEFAULT_TIMEOUT_S) -> Deployment:
    """A copy of the deployment for probing: short timeouts and no retries, so an unreachable one answers fast."""
    return deployment.model_copy(
        update={
            "connect_timeout": min(deployment.connect_timeout, timeout_s),
            "read_timeout": min(deployment.read_timeout, timeout_s),
            "max_retries": 0,
        }
    )


def probe_deployment(client: InferenceClient, name: str) -> ProbeReport:
    """Probe every capability of one deployment through `client` (at most a few tokens in all)."""
    started = time.perf_counter()
    probed_at = datetime.now(UTC)
    results: dict[str, CapabilityResult] = {}

    calls = _checks(client)
    chat, chat_error = _attempt("chat", calls["chat"])
    results["chat"] = chat
    if isinstance(chat_error, _STOP_ERRORS):
        # Nothing else can succeed against an endpoint that does not answer or refuses the key.
        for capability in CAPABILITIES[1:]:
            results[capability.key] = CapabilityResult(capability.key, Status.UNKNOWN, chat.detail, probed=False)
        return ProbeReport(name, probed_at, results, time.perf_counter() - started)

    wanted = [c.key for c in CAPABILITIES if c.key != "chat" and (chat.status is Status.SUPPORTED or not c.needs_chat)]
    if chat.status is not Status.SUPPORTED:
        for capability in CAPABILITIES:
            if capability.needs_chat:
                results[capability.key] = CapabilityResult(
                    capability.key,
                    chat.status,
                    f"not probed: chat is {chat.status.value} ({chat.detail})",
                    probed=False,
                )
    with ThreadPoolExecutor(max_workers=WORKERS_PER_DEPLOYMENT) as pool:
        attempt = tracing.carry(_attempt)  # the probe calls belong to the action that asked for them
        futures = {key: pool.submit(attempt, key, calls[key]) for key in wanted}
        for key, future in futures.items():
            results[key] = future.result()[0]
    ordered = {c.key: results[c.key] for c in CAPABILITIES}
    return ProbeReport(name, probed_at, ordered, time.perf_counter() - started)


def probe_all(
    deployments: Iterable[Deployment],
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    client_factory: Callable[[Deployment], InferenceClient] = InferenceClient,
    max_workers: int = 8,
) -> dict[str, ProbeReport]:
    """Probe the deployments in parallel; a deployment that fails in an unexpected way gets unknowns, not a crash."""
    targets = list(deployments)
    if not targets:
        return {}

    def run(deployment: Deployment) -> ProbeReport:
        try:
            client = client_factory(probe_settings(deployment, timeout_s))
        except Exception as exc:  # a broken configuration must not stop the others
            return _all_unknown(deployment.name, f"could not build a client: {exc}")
        try:
            return probe_deployment(client, deployment.name)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(targets)))) as pool:
        reports = list(pool.map(tracing.carry(run), targets))
    return {report.deployment: report for report in reports}


def probe_capability(client: InferenceClient, capability: str) -> CapabilityResult:
    """Probe one capability alone (e.g. whether an image deployment also takes text on `/embeddings`)."""
    if capability not in CAPABILITY_BY_KEY:
        raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITY_BY_KEY)}")
    return _attempt(capability, _checks(client)[capability])[0]


def _checks(client: InferenceClient) -> dict[str, Callable[[], Any]]:
    return {
        "chat": lambda: client.chat(PROMPT, max_tokens=1),
        "embeddings": lambda: client.embed(["probe"]),
        "image_embeddings": lambda: client.embed_images([_tiny_png()]),
        "streaming": lambda: _drain(client, PROMPT, max_tokens=1),
        "json_object": lambda: client.chat(PROMPT, max_tokens=2, response_format={"type": "json_object"}),
        "json_schema": lambda: client.chat(PROMPT, max_tokens=2, response_format=JSON_SCHEMA),
        "tools": lambda: client.chat(PROMPT, max_tokens=1, tools=TOOLS),
        "seed": lambda: client.chat(PROMPT, max_tokens=1, seed=1),
        "stop": lambda: client.chat(PROMPT, max_tokens=1, stop=["\n"]),
        "pass_through": lambda: client.chat(
            PROMPT, max_tokens=1, model_extras=dict(EXTRA_PARAMETER), extra_parameters="pass-through"
        ),
        "text_completion": lambda: client.complete_text(TEXT_PROMPT, max_tokens=1),
        "image_generation": lambda: image_generation.probe_route(client),
    }


def _drain(client: InferenceClient, messages: list[dict[str, str]], **params: Any) -> None:
    with client.stream_chat(messages, **params) as stream:
        for _ in stream:
            pass


def _attempt(key: str, call: Callable[[], Any]) -> tuple[CapabilityResult, Exception | None]:
    started = time.perf_counter()
    try:
        call()
    except Exception as exc:
        return _classify(key, exc, time.perf_counter() - started), exc
    return CapabilityResult(key, Status.SUPPORTED, "accepted", time.perf_counter() - started), None


def _classify(key: str, exc: Exception, elapsed: float) -> CapabilityResult:
    if isinstance(exc, UnsupportedParameterError):
        return CapabilityResult(key, Status.NOT_SUPPORTED, str(exc), elapsed, exc.param or None)
    if isinstance(exc, ModalityNotSupportedError):
        return CapabilityResult(key, Status.NOT_SUPPORTED, str(exc), elapsed)
    if isinstance(exc, InvalidRequestError):
        # Any other 4xx for a request that is valid by the contract means the deployment refuses this feature.
        return CapabilityResult(key, Status.NOT_SUPPORTED, str(exc), elapsed)
    return CapabilityResult(key, Status.UNKNOWN, _describe_error(exc), elapsed)


def _all_unknown(name: str, reason: str) -> ProbeReport:
    results = {c.key: CapabilityResult(c.key, Status.UNKNOWN, reason, probed=False) for c in CAPABILITIES}
    return ProbeReport(name, datetime.now(UTC), results)


_TINY_PNG: bytes | None = None


def _tiny_png() -> bytes:
    global _TINY_PNG
    if _TINY_PNG is None:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), (200, 40, 40)).save(buffer, format="PNG")
        _TINY_PNG = buffer.getvalue()
    return _TINY_PNG


# --- what each deployment is, and whether it answers ---------------------------------------------------------------

# Kinds whose endpoints serve `/info`; the others are described by their OpenAI-compatible `/models` list.
KINDS_WITH_INFO = ("azure-inference",)


@dataclass(frozen=True)
class DeploymentStatus:
    """One deployment checked: identity (/info, or /models for kinds without it), connection facts and one round
    trip. The one status of the app: the sidebar's status lines, the models page's table and every page that asks
    what a deployment serves (`info`, or `info_error` saying why there is none) read it.

    `reachable` means the endpoint answered at all (a 401 is an answer); `usable` that it also answered without an
    error, which is what the sidebar's green dot and compare's default panes need."""

    name: str
    kind: str
    endpoint: str
    api_version: str | None
    auth: str
    reachable: bool
    round_trip_s: float | None
    checked_at: datetime
    info: ModelInfo | None = None
    models: list[str] | None = None
    error: str | None = None
    model: str | None = None  # the configured `model`, the name shown for kinds whose endpoint does not say
    info_error: InferenceError | None = field(default=None, compare=False, repr=False)
    error_type: str | None = None  # the error's class name, e.g. "AuthenticationError"

    @property
    def usable(self) -> bool:
        """The endpoint answered, and not with an error: a route it lacks (/info, /models on some OpenAI-compatible
        servers) is not one, since it still answers chat."""
        return self.reachable and (self.error is None or self.error_type == ModalityNotSupportedError.__name__)

    @property
    def model_name(self) -> str | None:
        """The model's name from /info, else the configured one."""
        return self.info.model_name if self.info is not None else self.model

    @property
    def latency_s(self) -> float | None:
        return self.round_trip_s

    @property
    def detail(self) -> str:
        """What went wrong, in words (empty when nothing did)."""
        return self.error or ""


def auth_mode(deployment: Deployment) -> str:
    """How the deployment authenticates, in words; names where a key comes from, never the key."""
    if deployment.auth == "entra":
        return "Entra ID token"
    if deployment.key is None:
        return "no key"
    return f"key (from {deployment.key_source})" if deployment.key_source != "none" else "key"


def display_endpoint(endpoint: str) -> str:
    """The endpoint without credentials a user may have pasted into the URL (user info, query string)."""
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_deployment(client: InferenceClient, deployment: Deployment) -> DeploymentStatus:
    """Ask the deployment what it is (`/info`, or `/models` for kinds without it) and time the round trip."""
    info: ModelInfo | None = None
    models: list[str] | None = None
    error: Exception | None = None
    info_error: InferenceError | None = None
    started = time.perf_counter()
    try:
        if deployment.api in KINDS_WITH_INFO:
            try:
                info = client.info()
            except ModalityNotSupportedError as exc:
                # The endpoint answered (a 404 for /info is an answer): it is up, it just does not say what it is.
                info_error = exc
        else:
            info_error = ModalityNotSupportedError(
                f"/info is not offered by {deployment.api} endpoints", deployment=deployment.name, route="/info"
            )
            models = client.list_models()
    except Exception as exc:
        error = exc
        if isinstance(exc, InferenceError):
            info_error = info_error or exc
    elapsed = time.perf_counter() - started
    answered = error is None or (isinstance(error, InferenceError) and error.status is not None)
    return DeploymentStatus(
        name=deployment.name,
        kind=deployment.api,
        endpoint=display_endpoint(deployment.endpoint),
        api_version=api_version(deployment),
        auth=auth_mode(deployment),
        reachable=answered,
        round_trip_s=elapsed if answered else None,
        checked_at=datetime.now(UTC),
        info=info,
        models=models,
        error=None if error is None else _describe_error(error),
        model=deployment.model,
        info_error=info_error,
        error_type=None if error is None else type(error).__name__,
    )


def check_all(
    deployments: Iterable[Deployment],
    *,
    timeout_s: float = CHECK_TIMEOUT_S,
    client_factory: Callable[[Deployment], InferenceClient] = InferenceClient,
    max_workers: int = 8,
) -> dict[str, DeploymentStatus]:
    """Check every deployment in parallel with short timeouts and no retries."""
    targets = list(deployments)
    if not targets:
        return {}

    def run(deployment: Deployment) -> DeploymentStatus:
        try:
            client = client_factory(probe_settings(deployment, timeout_s))
        except Exception as exc:  # a broken configuration must not stop the others
            return DeploymentStatus(
                deployment.name,
                deployment.api,
                display_endpoint(deployment.endpoint),
                api_version(deployment),
                auth_mode(deployment),
                reachable=False,
                round_trip_s=None,
                checked_at=datetime.now(UTC),
                error=f"could not build a client: {exc}",
            )
        try:
            return check_deployment(client, deployment)
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(targets)))) as pool:
        statuses = list(pool.map(tracing.carry(run), targets))
    return {status.name: status for status in statuses}


def _describe_error(exc: Exception) -> str:
    return str(exc) if isinstance(exc, InferenceError) else f"{type(exc).__name__}: {exc}"
