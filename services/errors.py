"""The typed error family, and `error_from_response` which reads every error body shape of docs/api/PROTOCOL.md."""

from __future__ import annotations

import ast
import datetime
import email.utils
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

_MAX_DETAIL = 300


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


class InferenceError(Exception):
    """Any failure of a call to a deployment; `str(err)` is one human line that names the deployment."""

    def __init__(
        self,
        message: str,
        *,
        deployment: str = "",
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = _one_line(message)
        self.deployment = deployment
        self.status = status
        self.code = code
        self.request_id = request_id
        self.trace_id: str | None = None  # the trace of the call that failed (set by the client when recorded)
        super().__init__(self._line())

    def _line(self) -> str:
        tag = " ".join(str(part) for part in (self.status, self.code) if part not in (None, ""))
        head = f"{self.deployment}: {self.message}" if self.deployment else self.message
        return head + (f" [{tag}]" if tag else "")

    def __str__(self) -> str:
        return self._line()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._line()!r})"

    def redact(self, secrets: str | Iterable[str | None] | None) -> InferenceError:
        """Mask every secret (key, Entra token, header values) in the message and the other text fields, in case an
        endpoint echoes them; also a secret's beginning left at the end of a message that was cut short."""
        wanted = redaction_list(secrets)
        if not wanted:
            return self
        self.message = redact_text(self.message, wanted)
        for name, value in list(vars(self).items()):
            if name != "message" and isinstance(value, str | dict | list | tuple):
                setattr(self, name, _redact_value(value, wanted))
        self.args = (self._line(),)
        return self


REDACTED = "***"
# Shorter strings are not masked: replacing "a" or "1" everywhere would ruin messages and hide nothing.
_MIN_SECRET = 4


def redaction_list(secrets: str | Iterable[str | None] | None) -> list[str]:
    """The secrets worth masking, longest first (so a secret containing another is masked whole)."""
    if secrets is None:
        return []
    items = [secrets] if isinstance(secrets, str) else list(secrets)
    return sorted({s for s in items if s and len(s) >= _MIN_SECRET}, key=len, reverse=True)


def redact_text(text: str, secrets: str | Iterable[str | None] | None) -> str:
    """`text` with every secret replaced by ***. Messages quote bodies cut short, so the beginning of a secret at
    the very end (before a closing quote or "…") is masked as well."""
    wanted = redaction_list(secrets)
    for secret in wanted:
        text = text.replace(secret, REDACTED)
    body = text.rstrip("…'\"")
    tail = text[len(body) :]
    for secret in wanted:
        # The longest beginning of the secret the cut text ends with (at least a few characters).
        for size in range(min(len(secret) - 1, len(body)), _MIN_SECRET - 1, -1):
            if body.endswith(secret[:size]):
                return body[:-size] + REDACTED + tail
    return text


def _redact_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, dict):
        return {key: _redact_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item, secrets) for item in value)
    return value


class InvalidRequestError(InferenceError):
    """A 4xx the other classes do not cover."""


class MalformedResponseError(InferenceError):
    """The endpoint answered something that is not the API's shape (not JSON, a broken event stream)."""


class UnsupportedParameterError(InvalidRequestError):
    """The deployment rejects one request parameter; `param` is the top-level body key, `value` what was sent.

    `invalid_value` is True when the parameter is known but this value is not accepted (out of range, wrong type):
    the deployment supports the parameter, so it must not be remembered as unsupported."""

    def __init__(
        self, message: str, *, param: str, value: Any = None, invalid_value: bool = False, **kwargs: Any
    ) -> None:
        self.param = param
        self.value = value
        self.invalid_value = invalid_value
        super().__init__(message, **kwargs)


class ContentFilterError(InvalidRequestError):
    """The prompt was blocked by content safety; `categories` holds per-category `filtered` / `severity`."""

    def __init__(self, message: str, *, categories: dict[str, dict[str, Any]] | None = None, **kwargs: Any) -> None:
        self.categories = categories or {}
        super().__init__(message, **kwargs)

    @property
    def filtered_categories(self) -> list[str]:
        """Names of the categories that caused the block."""
        return [name for name, result in self.categories.items() if isinstance(result, dict) and result.get("filtered")]


class EndpointBlockedError(InferenceError):
    """This server's policy forbids reaching the endpoint (services.netguard); nothing was sent to it."""

    def __init__(self, message: str, *, host: str, **kwargs: Any) -> None:
        self.host = host
        super().__init__(message, **kwargs)


class RedirectRefusedError(InvalidRequestError):
    """The endpoint answered with a redirect; the playground never follows one (it could lead anywhere)."""

    def __init__(self, message: str, *, location: str, **kwargs: Any) -> None:
        self.location = location
        super().__init__(message, **kwargs)


class AuthenticationError(InferenceError):
    """401/403; `key_source` says where the key came from (file, environment, session, none), never the key."""

    def __init__(self, message: str, *, key_source: str = "none", **kwargs: Any) -> None:
        self.key_source = key_source
        super().__init__(message, **kwargs)


class ModalityNotSupportedError(InferenceError):
    """The deployment does not serve this route (404 / 405 / 424)."""

    def __init__(self, message: str, *, route: str, **kwargs: Any) -> None:
        self.route = route
        super().__init__(message, **kwargs)


class RateLimitError(InferenceError):
    """429 after the retry budget was spent (or the wait asked for is too long); `retry_after` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class EndpointUnavailableError(InferenceError):
    """Could not connect, timed out, or 5xx after retries; `host` and `reason` say which and why."""

    def __init__(self, message: str, *, host: str, reason: str, **kwargs: Any) -> None:
        self.host = host
        self.reason = reason
        super().__init__(message, **kwargs)


class StreamInterruptedError(EndpointUnavailableError):
    """The stream broke after some content arrived; that content was yielded before this was raised."""


class ImageFetchError(InferenceError):
    """A generated image answered as a `url` could not be fetched: it is on another host than the endpoint (never
    fetched), it is larger than the limit, it is not an image, or its host answered an error. `host` is where the url
    pointed (never the url itself: it may carry a signature) and `reason` says which."""

    def __init__(self, message: str, *, host: str, reason: str, **kwargs: Any) -> None:
        self.host = host
        self.reason = reason
        super().__init__(message, **kwargs)


# --- parsing -------------------------------------------------------------------------------------------------------

_EXTRA_PARAMS = re.compile(r"Extra parameters? (\[.*?\]) (?:is|are) not allowed")
_KEY_HINTS = {
    "none": "no key is configured",
    "file": "key from the configuration file",
    "key_file": "key from the deployment's key_file",
    "secrets": "key from .streamlit/secrets.toml",
    "secrets_dir": "key from the secrets directory (PLAYGROUND_SECRETS_DIR)",
    "environment": "key from the environment",
    "session": "key entered in this session",
    "entra": "Entra ID token",
}
_PARAM_CODES = {
    "parameter_not_supported",
    "unsupported_parameter",
    "unsupported_value",
    "extra_forbidden",
    "unknown_parameter",  # OpenAI's images API: "Unknown parameter: 'style'." (gpt-image-1)
}
# OpenAI's code for a known parameter with a value it does not take ("Invalid value: '512x512'. Supported values...").
_VALUE_CODES = {"invalid_value"}
# A JSON-schema message that names its parameter at the end, as OpenAI's images API sends with `param: null`:
# "'512x512' is not one of ['1024x1024', '1024x1792', '1792x1024'] - 'size'".
_SCHEMA_PARAM = re.compile(r" - '([A-Za-z_][A-Za-z0-9_]*)'$")
# Content safety codes: chat's `content_filter`, Azure OpenAI images' `content_policy_violation` (and its older
# `contentFilter`), OpenAI images' `moderation_blocked`.
_FILTER_CODES = {"content_filter", "content_policy_violation", "contentfilter", "moderation_blocked"}


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a 429/503 asks for: `retry-after-ms`, `x-ms-retry-after-ms`, then `Retry-After` (seconds or an
    HTTP date, which counts from now; a date already past means no wait)."""
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw) / scale
        except ValueError:
            if name != "retry-after":
                continue
            value = _seconds_until(raw)
            if value is None:
                continue
        if value >= 0:
            return value
    return None


def _seconds_until(http_date: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


def _body_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return None


def _param_from_loc(loc: Any) -> str | None:
    if not isinstance(loc, list | tuple) or not loc:
        return None
    parts = [str(part) for part in loc]
    if parts[0] in ("body", "query") and len(parts) > 1:
        return parts[1]
    return parts[0]


def _unsupported_from_detail(detail: Any, sent: Mapping[str, Any]) -> tuple[str, Any, str, str | None] | None:
    """(param, value, message, item type) from a 422 `detail` object or list, or the 400 "Extra parameters" string."""
    items = detail if isinstance(detail, list) else [detail]
    for item in items:
        if isinstance(item, dict):
            param = _param_from_loc(item.get("loc"))
            if param:
                value = item.get("input", sent.get(param))
                kind = item.get("type")
                return param, value, str(item.get("msg") or ""), kind if isinstance(kind, str) else None
        elif isinstance(item, str):
            match = _EXTRA_PARAMS.search(item)
            if match:
                try:
                    names = ast.literal_eval(match.group(1))
                except (ValueError, SyntaxError):
                    names = [match.group(1).strip("[]'\" ")]
                if names:
                    return str(names[0]), sent.get(str(names[0])), item, "extra_forbidden"
    return None


def _content_filter(payload: Mapping[str, Any], message: str, common: dict[str, Any]) -> ContentFilterError | None:
    # Chat errors spell it `innererror.content_filter_result`; image generation `inner_error.content_filter_results`.
    inner = next((v for k in ("innererror", "inner_error") if isinstance(v := payload.get(k), dict)), {})
    found = inner.get("content_filter_result") or inner.get("content_filter_results")
    if str(payload.get("code")).lower() not in _FILTER_CODES and not found:
        return None
    categories = found or payload.get("content_filter_result") or payload.get("content_filter_results") or {}
    error = ContentFilterError(
        message or "the prompt was blocked by content filtering", categories=categories, **common
    )
    names = error.filtered_categories
    if names:
        error.message = _one_line(f"{error.message} (filtered: {', '.join(names)})")
        error.args = (error._line(),)
    return error


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    deployment: str,
    route: str,
    request_id: str | None = None,
    sent: Mapping[str, Any] | None = None,
    key_source: str = "none",
    host: str = "",
) -> InferenceError:
    """Map an error response (any body shape of docs/api/PROTOCOL.md) to the typed family."""
    sent = sent or {}
    body = _body_json(text)
    payload: dict[str, Any] = {}
    if isinstance(body, dict):
        payload = body["error"] if isinstance(body.get("error"), dict) else body
    code = payload.get("code") if isinstance(payload.get("code"), str) else headers.get("x-ms-error-code")
    message = str(payload.get("message") or "") if payload else ""
    if not message and isinstance(body, dict) and isinstance(body.get("detail"), str):
        message = body["detail"]
    if not message and body is None:
        message = text.strip()
    common: dict[str, Any] = {"deployment": deployment, "status": status, "code": code, "request_id": request_id}

    if status in (401, 403):
        hint = _KEY_HINTS.get(key_source, f"key from {key_source}")
        return AuthenticationError(
            f"authentication failed ({hint}): {message or 'access denied'}", key_source=key_source, **common
        )
    if status == 429:
        wait = retry_after_seconds(headers)
        suffix = f"; retry after {wait:g} s" if wait is not None else ""
        return RateLimitError(f"rate limited: {message or 'too many requests'}{suffix}", retry_after=wait, **common)
    if status in (408,) or status >= 500:
        return EndpointUnavailableError(
            f"endpoint unavailable ({status}): {message or 'server error'}",
            host=host,
            reason=f"HTTP {status}",
            **common,
        )

    filtered = _content_filter(payload, message, common) if payload else None
    if filtered is not None:
        return filtered

    detail = body.get("detail") if isinstance(body, dict) else None
    if status in (400, 422):
        found = _unsupported_from_detail(detail, sent) if detail is not None else None
        if found is None and payload.get("param") and str(code).lower() in _PARAM_CODES | _VALUE_CODES:
            param = str(payload["param"])
            found = (param, sent.get(param), message, str(code))
        named = _SCHEMA_PARAM.search(message) if found is None and not payload.get("param") else None
        if named is not None and named.group(1) in sent:
            found = (named.group(1), sent.get(named.group(1)), message, "invalid_value")
        if found is not None:
            param, value, why, kind = found
            shown = f" (value {value!r})" if value is not None else ""
            # Known codes say "not supported"; anything else (invalid_input, less_than_equal, ...) is a bad value.
            unsupported = str(code).lower() in _PARAM_CODES or kind is None or kind.lower() in _PARAM_CODES
            if not unsupported:
                return UnsupportedParameterError(
                    f"does not accept the value of parameter {param!r}{shown}: {why or message}",
                    param=param,
                    value=value,
                    invalid_value=True,
                    **common,
                )
            return UnsupportedParameterError(
                f"does not support parameter {param!r}{shown}: {message or why}", param=param, value=value, **common
            )

    if str(code).lower() == "operationnotsupported":
        # Azure OpenAI's answer for a route the deployment's model does not serve ("The imagesGenerate operation does
        # not work with the specified model, gpt-4o"): a 400, but the same thing as a 404 elsewhere.
        return ModalityNotSupportedError(
            f"does not offer {route} ({message or 'not supported'})", route=route, **common
        )
    not_found = status in (404, 405, 424) and str(code).lower() not in ("deploymentnotfound",)
    if not_found:
        return ModalityNotSupportedError(f"does not offer {route} ({message or 'not found'})", route=route, **common)
    return InvalidRequestError(f"request rejected: {message or f'HTTP {status}'}", **common)
