"""A SpanRecord as a stored row: the request as sent, the answer as received, the error in words; secrets masked.

Runs on the trace writer thread, never on the caller's. Everything text-like goes through `redact_text` with the
deployment's secrets after it is serialised, so a key an endpoint echoed in an answer or an error is masked too.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import numpy as np

from services.errors import (
    ContentFilterError,
    InferenceError,
    RateLimitError,
    StreamInterruptedError,
    UnsupportedParameterError,
    redact_text,
)
from services.image_schemas import GeneratedImage, ImageGenerationResult
from services.schemas import ChatResult, CompletionResult, EmbeddingsResult, ModelInfo
from services.tracing import SpanRecord

# Body keys that are not parameters the user set: the content itself (a text completion's prompt and suffix too),
# and what the client adds for streaming.
_CONTENT_KEYS = ("messages", "input", "prompt", "suffix")
_TRANSPORT_KEYS = ("stream", "stream_options")
_DATA_URL = "data:"


def image_summary(url: str) -> str:
    """A data URL as its type, size and hash: enough to tell two images apart, nothing to rebuild them from."""
    head, _, data = url.partition(",")
    try:
        raw = base64.b64decode(data, validate=False)
    except ValueError:
        raw = data.encode()
    kind = head[len(_DATA_URL) :].split(";")[0] or "unknown"
    return f"<{kind}, {len(raw)} bytes, sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def _reduce_images(value: Any) -> Any:
    if isinstance(value, str):
        return image_summary(value) if value.startswith(_DATA_URL) else value
    if isinstance(value, dict):
        return {key: _reduce_images(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reduce_images(item) for item in value]
    return value


def _text_of(messages: Any) -> list[str]:
    """The plain text in messages or inputs, for the free-text filter."""
    found: list[str] = []
    if isinstance(messages, str):
        found.append(messages)
    elif isinstance(messages, list):
        for item in messages:
            found.extend(_text_of(item))
    elif isinstance(messages, dict):
        for key in ("content", "text"):
            found.extend(_text_of(messages.get(key)))
    return found


def request_of(body: dict[str, Any] | None, *, content: bool, images: str) -> dict[str, Any]:
    """{"params": what was sent besides the content, "messages"/"input": the content (or just its count)}."""
    body = body or {}
    params = {key: value for key, value in body.items() if key not in _CONTENT_KEYS + _TRANSPORT_KEYS}
    request: dict[str, Any] = {"params": params}
    for key in _CONTENT_KEYS:
        if key in body:
            items = body[key]
            if content:
                request[key] = items if images == "full" else _reduce_images(items)
            else:
                request[f"{key}_count"] = len(items) if isinstance(items, list) else 1
    return request


def answer_of(result: Any, *, content: bool) -> dict[str, Any] | None:
    """What came back: an answer's text and tool calls (names only without content), embeddings' count and size."""
    if isinstance(result, ChatResult):
        answer: dict[str, Any] = {
            "finish_reason": result.finish_reason,
            "model": result.model,
            "id": result.response_id,
            "stopped": result.stopped,
            "content_filtered": result.content_filtered,
        }
        if content:
            answer["content"] = result.content
            answer["tool_calls"] = [call.model_dump() for call in result.tool_calls]
        else:
            answer["tool_calls"] = [call.function.name for call in result.tool_calls]
        if result.content_filter_results:
            answer["content_filter_results"] = result.content_filter_results
        return answer
    if isinstance(result, CompletionResult):
        answer = {
            "finish_reason": result.finish_reason,
            "model": result.model,
            "id": result.response_id,
            "stopped": result.stopped,
            "content_filtered": result.content_filtered,
        }
        if content:
            answer["content"] = result.text
            if result.logprobs is not None:
                answer["logprobs"] = result.logprobs
        if result.content_filter_results:
            answer["content_filter_results"] = result.content_filter_results
        return answer
    if isinstance(result, ImageGenerationResult):
        answer = {
            "count": len(result.images),
            "images": [_image_facts(image) for image in result.images],
            "model": result.model,
            "id": result.response_id,
        }
        if content and result.revised_prompts:
            answer["revised_prompts"] = result.revised_prompts
        filtered = {i.index: i.content_filter_results for i in result.images if i.content_filter_results}
        if filtered:
            answer["content_filter_results"] = filtered
        return answer
    if isinstance(result, GeneratedImage):  # one `url` image fetched
        return _image_facts(result)
    if isinstance(result, EmbeddingsResult):
        shape = np.shape(result.vectors)
        return {"count": int(shape[0]), "dimensions": int(shape[1]) if len(shape) > 1 else 0, "model": result.model}
    if isinstance(result, ModelInfo):
        return result.model_dump()
    if isinstance(result, list):
        return {"models": [str(item) for item in result]}
    return None


def _image_facts(image: GeneratedImage) -> dict[str, Any]:
    """A generated image as its size, format and byte count: never its bytes, never its url (it may be signed)."""
    facts: dict[str, Any] = {"source": image.source, "size": image.size, "format": image.format}
    if image.fetched:
        facts["bytes"] = len(image.data)
        facts["sha256"] = hashlib.sha256(image.data).hexdigest()[:16]
    if image.url:
        facts["host"] = _host_of(image.url)
    return facts


def _host_of(url: str) -> str:
    try:
        return httpx.URL(url).host
    except (httpx.InvalidURL, TypeError):
        return ""


def error_of(error: Exception | None) -> dict[str, Any] | None:
    """The error as the user saw it: its type, its one line, and the fields its card shows."""
    if error is None:
        return None
    detail: dict[str, Any] = {"type": type(error).__name__, "message": str(error)}
    if isinstance(error, InferenceError):
        detail.update(status=error.status, code=error.code, text=error.message)
        for name, value in vars(error).items():
            if name not in detail and name not in ("message", "args") and _jsonable(value):
                detail[name] = value
    return detail


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def error_words(error: Exception | None) -> str | None:
    """One line for the table: what went wrong, with the detail that matters for each kind."""
    if error is None:
        return None
    if isinstance(error, UnsupportedParameterError):
        return f"422: {error.param} not supported ({error.message})"
    if isinstance(error, ContentFilterError):
        names = ", ".join(error.filtered_categories) or "unnamed category"
        return f"content filter: {names}"
    if isinstance(error, RateLimitError):
        after = f", retry after {error.retry_after:g} s" if error.retry_after is not None else ""
        return f"429 rate limited{after}"
    if isinstance(error, StreamInterruptedError):
        return f"stream cut: {error.reason}"
    return str(error)


def span_row(span: SpanRecord, *, content: bool = True, images: str = "hash") -> dict[str, Any]:
    """The stored form of one span (every text column masked of the deployment's secrets)."""
    secrets = list(span.secrets)

    def masked(value: Any) -> str | None:
        if value is None:
            return None
        return redact_text(json.dumps(value, ensure_ascii=False, default=str), secrets)

    result = span.result
    usage = getattr(result, "usage", None)
    metrics = getattr(result, "metrics", None)
    input_tokens = usage.prompt_tokens if usage is not None else None
    # gpt-image-1 bills generated images as output tokens.
    generated = span.operation in ("chat", "text_completion", "image_generation")
    output_tokens = usage.completion_tokens if usage is not None and generated else None
    cost = None
    if usage is not None and (span.price_in is not None or span.price_out is not None):
        cost = (usage.prompt_tokens * (span.price_in or 0.0) + usage.completion_tokens * (span.price_out or 0.0)) / 1000
    request = request_of(span.body, content=content, images=images)
    answer = answer_of(result, content=content)
    search = ""
    if content:
        texts = _text_of(request.get("messages") or request.get("input") or request.get("prompt"))
        if answer and isinstance(answer.get("content"), str):
            texts.append(answer["content"])
        search = redact_text(" ".join(texts), secrets).lower()
    finish = result.finish_reason if isinstance(result, ChatResult | CompletionResult) else None
    return {
        "span_id": span.span_id,
        "trace_id": span.trace_id,
        "start_ns": span.start_ns,
        "end_ns": span.end_ns,
        "page": span.page,
        "action": span.action,
        "operation": span.operation,
        "deployment": span.deployment,
        "host": span.host,
        "api": span.api,
        "route": span.route,
        "request_model": span.request_model,
        "response_model": (answer or {}).get("model") if isinstance(answer, dict) else None,
        "request_id": span.request_id,
        "status": span.status,
        "http_status": span.http_status,
        "attempt": span.attempt,
        "retry_wait_s": span.retry_wait_s,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
        "ttft_s": metrics.ttft_s if metrics is not None else span.ttft_s,
        "total_s": (span.end_ns - span.start_ns) / 1e9,
        "finish_reason": finish,
        "error_type": type(span.error).__name__ if span.error is not None else None,
        "error": redact_text(error_words(span.error), secrets) if span.error is not None else None,
        "request": masked(request),
        "answer": masked(answer),
        "error_detail": masked(error_of(span.error)),
        "search": search,
        "owner": span.owner,
    }
