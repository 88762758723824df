"""What one call needs, prepared once per call: URL, headers, body, and error mapping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services import http, tracing
from services.config import Deployment
from services.errors import (
    AuthenticationError,
    EndpointBlockedError,
    EndpointUnavailableError,
    InferenceError,
    ModalityNotSupportedError,
    RedirectRefusedError,
    StreamInterruptedError,
    error_from_response,
    redact_text,
)
from services.metrics import Stopwatch
from services.retry import DEFAULT_POLICY, RETRY_STATUSES, RetryPolicy
from services.schemas import ImageInput


@dataclass
class Call:
    """One prepared request; `clock` starts when it is prepared, so retries count in total time."""

    method: str
    route: str
    url: httpx.URL
    body: dict[str, Any] | None
    request_id: str
    stream: bool
    extra_parameters: str | None
    clock: Stopwatch
    operation: str
    action: tracing.Action
    encoding: str | None = None
    # The attempt that got a 2xx answer: when it started (epoch ns), its number and status (for its span).
    attempt: int = 0
    attempt_ns: int = 0
    http_status: int | None = None


_OPERATIONS = {
    "/chat/completions": "chat",
    "/completions": "text_completion",
    "/embeddings": "embeddings",
    "/images/embeddings": "image_embeddings",
    "/images/generations": "image_generation",
    "/info": "info",
    "/models": "models",
}


class CallPlanner:
    """Knows the deployment, its auth and its retry budget; builds calls and maps failures to typed errors."""

    def __init__(self, deployment: Deployment, retry_policy: RetryPolicy | None = None, credential: Any = None) -> None:
        self.deployment = deployment
        self.policy = retry_policy or DEFAULT_POLICY
        self.retries = self.policy.budget(deployment.max_retries)
        self.host = http.host_of(deployment)
        self.entra = http.EntraAuth(http.entra_scope(deployment), credential) if deployment.auth == "entra" else None

    def _call(self, method: str, route: str, body: dict[str, Any] | None, mode: str | None = None, **kw: Any) -> Call:
        query = kw.pop("query", None)
        operation = _OPERATIONS[route]
        action = tracing.current_action(operation)
        return Call(
            method=method,
            route=route,
            url=http.build_url(self.deployment, route, query),
            body=body,
            request_id=http.new_request_id(),
            stream=kw.pop("stream", False),
            extra_parameters=mode,
            clock=Stopwatch(action.trace_id),
            operation=operation,
            action=action,
            **kw,
        )

    def info(self) -> Call:
        if self.deployment.api != "azure-inference":
            raise ModalityNotSupportedError(
                f"/info is not offered by {self.deployment.api} endpoints",
                deployment=self.deployment.name,
                route="/info",
            )
        version = http.api_version(self.deployment) or ""
        # The GA version picks the model on a multi-model endpoint with ?model=.
        query = {"model": self.deployment.model} if self.deployment.model and not version.startswith("2024") else None
        return self._call("GET", "/info", None, query=query)

    def models(self) -> Call:
        return self._call("GET", "/models", None)

    def chat(self, messages: Iterable[Any], params: dict[str, Any], *, stream: bool) -> Call:
        body, mode = http.chat_body(self.deployment, messages, params, stream=stream)
        return self._call("POST", "/chat/completions", body, mode, stream=stream)

    def complete_text(self, prompt: str, params: dict[str, Any], *, stream: bool) -> Call:
        body, mode = http.completions_body(self.deployment, prompt, params, stream=stream)
        return self._call("POST", "/completions", body, mode, stream=stream)

    def embed(self, texts: list[str], params: dict[str, Any]) -> Call:
        if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
            raise TypeError("texts must be a list of strings")
        if not texts:
            raise ValueError("at least one text is required")
        body, mode = http.embed_body(self.deployment, list(texts), params)
        return self._call("POST", "/embeddings", body, mode, encoding=body.get("encoding_format"))

    def embed_images(self, images: Iterable[ImageInput | bytes | Path | str], params: dict[str, Any]) -> Call:
        body, mode = http.embed_body(self.deployment, http.image_inputs(images), params)
        return self._call("POST", "/images/embeddings", body, mode, encoding=body.get("encoding_format"))

    def generate_images(self, body: dict[str, Any], mode: str | None) -> Call:
        """A call to /images/generations with a body built by services.image_generation."""
        return self._call("POST", "/images/generations", body, mode)

    def headers(self, call: Call, bearer_token: str | None = None) -> dict[str, str]:
        return http.build_headers(
            self.deployment,
            request_id=call.request_id,
            stream=call.stream,
            extra_parameters=call.extra_parameters,
            bearer_token=bearer_token,
        )

    def token_or_error(self, call: Call) -> str | None:
        """The Entra token (None for key auth); credential failures become AuthenticationError."""
        if self.entra is None:
            return None
        try:
            return self.entra.token()
        except Exception as exc:  # azure-identity raises several unrelated types
            error = AuthenticationError(
                f"could not get an Entra ID token for {self.entra.scope}: {type(exc).__name__}: {exc}",
                key_source="entra",
                deployment=self.deployment.name,
                request_id=call.request_id,
            )
            raise self.redact(error) from None

    def secrets(self) -> list[str]:
        """Everything that must never show in an error: the key, each extra header value and the Entra token."""
        token = self.entra.cached_token() if self.entra is not None else None
        return self.deployment.secret_values() + ([token] if token else [])

    def redact(self, error: InferenceError) -> InferenceError:
        """The error with every secret of this deployment masked (endpoints may echo request headers)."""
        return error.redact(self.secrets())

    def mask(self, text: str) -> str:
        """`text` with every secret of this deployment masked, for bodies an error is about to quote."""
        return redact_text(text, self.secrets())

    def response_error(self, call: Call, status: int, headers: httpx.Headers, text: str) -> InferenceError:
        secrets = self.secrets()
        # Masked before parsing too: a message is cut to one line, which could leave part of a secret unmatched.
        error = error_from_response(
            status,
            httpx.Headers({name: redact_text(value, secrets) for name, value in headers.items()}),
            redact_text(text, secrets),
            deployment=self.deployment.name,
            route=call.route,
            request_id=call.request_id,
            sent=call.body,
            key_source="entra" if self.entra is not None else self.deployment.key_source,
            host=self.host,
        )
        return error.redact(secrets)

    def transport_error(self, call: Call, exc: Exception, *, partial: str | None = None) -> EndpointUnavailableError:
        """A connect/timeout/protocol failure as EndpointUnavailableError (StreamInterruptedError mid-stream)."""
        if isinstance(exc, httpx.ConnectTimeout):
            reason = f"connect timeout after {self.deployment.connect_timeout:g} s"
        elif isinstance(exc, httpx.ReadTimeout):
            reason = f"read timeout after {self.deployment.read_timeout:g} s"
        elif isinstance(exc, httpx.ConnectError):
            reason = f"cannot connect ({exc})" if str(exc) else "cannot connect"
        else:
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if partial is not None:
            error: EndpointUnavailableError = StreamInterruptedError(
                f"stream from {self.host} interrupted after {len(partial)} characters: {reason}",
                host=self.host,
                reason=reason,
                deployment=self.deployment.name,
                request_id=call.request_id,
            )
        else:
            error = EndpointUnavailableError(
                f"endpoint {self.host} unavailable: {reason}",
                host=self.host,
                reason=reason,
                deployment=self.deployment.name,
                request_id=call.request_id,
            )
        self.redact(error)
        return error

    def blocked_error(self, call: Call, refusal: Exception) -> EndpointBlockedError:
        """The address guard's refusal as a typed error (nothing reached the endpoint)."""
        return EndpointBlockedError(
            str(refusal), host=self.host, deployment=self.deployment.name, request_id=call.request_id
        )

    def redirect_error(self, call: Call, status: int, headers: httpx.Headers) -> RedirectRefusedError:
        """A 3xx answer: named with where it pointed (bounded), never followed."""
        location = self.mask(headers.get("location", ""))[:200]
        return RedirectRefusedError(
            f"answered {status} redirecting to {location or 'another address'}; redirects are not followed: "
            "use the final URL as the endpoint",
            location=location,
            deployment=self.deployment.name,
            status=status,
            request_id=call.request_id,
        )

    def retry_wait(self, attempt: int, status: int | None, headers: httpx.Headers | None) -> float | None:
        """Seconds to wait before retry `attempt` (1-based), or None when this failure is not retried."""
        if attempt > self.retries:
            return None
        if status is not None and status not in RETRY_STATUSES:
            return None
        return self.policy.wait_for(attempt, headers)

    def span(
        self,
        call: Call,
        status: str,
        *,
        attempt: int | None = None,
        start_ns: int | None = None,
        http_status: int | None = None,
        result: Any = None,
        error: Exception | None = None,
        retry_wait: float | None = None,
    ) -> None:
        """Record one attempt of `call` as a span (queued: the trace writer does the rest on its own thread)."""
        if error is not None and isinstance(error, InferenceError):
            error.trace_id = call.action.trace_id  # the error card can link to the trace that shows this failure
        target = tracing.recorder()
        if target is None:
            return
        deployment = self.deployment
        target.record(
            tracing.SpanRecord(
                trace_id=call.action.trace_id,
                action=call.action.name,
                page=call.action.page,
                operation=call.operation,
                deployment=deployment.name,
                host=self.host,
                api=deployment.api,
                route=call.route,
                request_model=(call.body or {}).get("model") or deployment.model,
                request_id=call.request_id,
                start_ns=call.attempt_ns if start_ns is None else start_ns,
                end_ns=tracing.now_ns(),
                attempt=call.attempt if attempt is None else attempt,
                status=status,
                http_status=call.http_status if http_status is None else http_status,
                body=call.body,
                result=result,
                error=error,
                retry_wait_s=retry_wait,
                price_in=deployment.price_per_1k_input,
                price_out=deployment.price_per_1k_output,
                secrets=tuple(self.secrets()),
            )
        )
