"""Turning response bodies and stream chunks into typed results (kept apart from the HTTP code of services.client)."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np

from services.errors import InferenceError, MalformedResponseError, error_from_response
from services.metrics import Stopwatch
from services.schemas import (
    ChatResult,
    CompletionResult,
    EmbeddingsResult,
    FunctionCall,
    FunctionCallDelta,
    ModelInfo,
    StreamDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from services.sse import ServerSentEvent

_DTYPES = {"int8": np.int8, "binary": np.int8, "uint8": np.uint8, "ubinary": np.uint8}


def json_body(text: str, *, deployment: str, request_id: str, route: str) -> dict[str, Any]:
    """The JSON object of a 2xx body, or MalformedResponseError."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise MalformedResponseError(
            f"{route} answered with something that is not a JSON object: {text[:80]!r}",
            deployment=deployment,
            request_id=request_id,
        )
    return data


def _usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    prompt = int(data.get("prompt_tokens") or 0)
    completion = int(data.get("completion_tokens") or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=int(data.get("total_tokens") or 0))


def parse_info(data: dict[str, Any], *, deployment: str, request_id: str) -> ModelInfo:
    try:
        return ModelInfo.model_validate(data)
    except ValueError as exc:
        raise MalformedResponseError(
            f"/info answer lacks model_name/model_type/model_provider_name ({exc.__class__.__name__})",
            deployment=deployment,
            request_id=request_id,
        ) from None


def parse_chat(data: dict[str, Any], clock: Stopwatch, *, deployment: str, request_id: str) -> ChatResult:
    """A ChatResult from a chat completion body; a content_filter finish is a flag, not an error."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedResponseError("chat answer has no choices", deployment=deployment, request_id=request_id)
    choice = choices[0]
    message = choice.get("message") or {}
    content = message.get("content") or ""
    calls = [
        ToolCall(id=call.get("id", ""), function=FunctionCall(**call.get("function", {})))
        for call in message.get("tool_calls") or []
    ]
    usage = _usage(data.get("usage"))
    finish = choice.get("finish_reason")
    return ChatResult(
        content=content,
        tool_calls=calls,
        finish_reason=finish,
        usage=usage,
        metrics=clock.metrics(request_id=request_id, usage=usage, finish_reason=finish, text=content),
        content_filtered=finish == "content_filter",
        content_filter_results=choice.get("content_filter_results"),
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        response_id=data.get("id") if isinstance(data.get("id"), str) else None,
    )


def parse_completion(data: dict[str, Any], clock: Stopwatch, *, deployment: str, request_id: str) -> CompletionResult:
    """A CompletionResult from a text completion body (`choices[0].text`); content_filter is a flag, not an error."""
    choices = data.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
        raise MalformedResponseError(
            "text completion answer has no choice with text", deployment=deployment, request_id=request_id
        )
    text = choice["text"]
    usage = _usage(data.get("usage"))
    finish = choice.get("finish_reason")
    logprobs = choice.get("logprobs")
    return CompletionResult(
        text=text,
        finish_reason=finish,
        usage=usage,
        metrics=clock.metrics(request_id=request_id, usage=usage, finish_reason=finish, text=text),
        content_filtered=finish == "content_filter",
        content_filter_results=choice.get("content_filter_results"),
        model=data.get("model") if isinstance(data.get("model"), str) else None,
        response_id=data.get("id") if isinstance(data.get("id"), str) else None,
        logprobs=logprobs if isinstance(logprobs, dict) else None,
    )


def parse_embeddings(
    data: dict[str, Any], clock: Stopwatch, *, encoding: str | None, deployment: str, request_id: str
) -> EmbeddingsResult:
    """Vectors in input order as float32 (base64 strings decoded per encoding_format)."""
    items = data.get("data")
    if not isinstance(items, list):
        raise MalformedResponseError("embeddings answer has no data list", deployment=deployment, request_id=request_id)
    rows = []
    for item in sorted(items, key=lambda entry: entry.get("index", 0)):
        vector = item.get("embedding")
        if isinstance(vector, str):
            raw = base64.b64decode(vector)
            rows.append(np.frombuffer(raw, dtype=_DTYPES.get(encoding or "", np.dtype("<f4"))).astype(np.float32))
        else:
            rows.append(np.asarray(vector, dtype=np.float32))
    if rows and len({row.shape for row in rows}) != 1:
        raise MalformedResponseError("embeddings have different lengths", deployment=deployment, request_id=request_id)
    vectors = np.vstack(rows) if rows else np.zeros((0, 0), dtype=np.float32)
    usage = _usage(data.get("usage"))
    return EmbeddingsResult(
        vectors=vectors,
        model=data.get("model"),
        usage=usage,
        metrics=clock.metrics(request_id=request_id, usage=usage, finish_reason=None, generated=False),
    )


_NOTHING: dict[str, Any] = {}  # read only: what a chunk without choices or delta is looked up in
_decode_json = json.JSONDecoder().decode  # json.loads without its per-call argument checks
_new_object = object.__new__
_set_slot = object.__setattr__
_DELTA_FIELDS = frozenset({"content", "tool_calls", "finish_reason", "usage"})


def _content_delta(content: str) -> StreamDelta:
    """StreamDelta(content=content) as pydantic's own model_construct builds it (the value is known to be a str, so
    there is nothing to validate), at a third of the cost of validating it: this runs once per streamed chunk."""
    delta = _new_object(StreamDelta)
    _set_slot(delta, "__dict__", {"content": content, "tool_calls": None, "finish_reason": None, "usage": None})
    _set_slot(delta, "__pydantic_fields_set__", set(_DELTA_FIELDS))  # all four given, as the validated call does
    _set_slot(delta, "__pydantic_extra__", None)
    _set_slot(delta, "__pydantic_private__", None)
    return delta


class StreamAssembler:
    """Turns SSE events into StreamDeltas and keeps the answer assembled so far."""

    # Text completion chunks carry their piece as `choices[0].text` (with `logprobs`), chat chunks as `delta.content`.
    text_chunks = False

    def __init__(self, clock: Stopwatch, *, deployment: str, request_id: str, route: str) -> None:
        self._text_chunks = self.text_chunks  # read once per chunk: an instance attribute is the cheapest lookup
        self.clock = clock
        self.deployment = deployment
        self.request_id = request_id
        self.route = route
        self.pieces: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.filter_results: dict[str, Any] | None = None
        self.done = False
        self.stopped = False
        self.model: str | None = None
        self.response_id: str | None = None

    @property
    def text(self) -> str:
        # No in-place compaction: another thread (a UI) may read while the stream appends.
        return "".join(self.pieces)

    def delta(self, event: ServerSentEvent) -> StreamDelta | None:
        """The delta of one event (None for `[DONE]` and empty chunks); raises the typed error of an error event."""
        data = event.data
        if not data.startswith("{") and data.strip() == "[DONE]":
            self.done = True
            return None
        try:
            chunk = _decode_json(data)
        except ValueError:  # json.JSONDecodeError included
            raise MalformedResponseError(
                f"malformed stream chunk: {data[:80]!r}", deployment=self.deployment, request_id=self.request_id
            ) from None
        if not isinstance(chunk, dict):
            raise MalformedResponseError(
                f"malformed stream chunk: {data[:80]!r}", deployment=self.deployment, request_id=self.request_id
            )
        if "error" in chunk or event.event == "error":
            raise self._stream_error(chunk)
        if self.model is None and isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        if self.response_id is None and isinstance(chunk.get("id"), str):
            self.response_id = chunk["id"]
        # Most chunks carry one piece of content and nothing else: the checks below are ordered and shared so that
        # such a chunk costs as few lookups as possible, and its delta is built without validation (it is a str).
        usage = chunk.get("usage")
        if usage is not None:
            usage = _usage(usage)
            if usage is not None:
                self.usage = usage
        choices = chunk.get("choices")
        choice = choices[0] if choices and isinstance(choices[0], dict) else _NOTHING
        if self._text_chunks:
            delta = _NOTHING
            content = choice.get("text")
            logprobs = choice.get("logprobs")
            if logprobs:
                self._merge_logprobs(logprobs)
        else:
            delta = choice.get("delta") or _NOTHING
            content = delta.get("content")
        if content:
            self.clock.mark_first()
            self.pieces.append(content)
        calls = None
        if delta.get("tool_calls"):
            self.clock.mark_first()
            calls = [ToolCallDelta.model_validate(call) for call in delta["tool_calls"]]
            for call in calls:
                self._merge_call(call)
        finish = choice.get("finish_reason")
        if finish:
            self.finish_reason = finish
        filters = choice.get("content_filter_results")
        if filters:
            self.filter_results = filters
        if calls is None and usage is None:
            if finish is None and content and type(content) is str:
                return _content_delta(content)
            if not content and not finish:
                return None
        return StreamDelta(content=content or None, tool_calls=calls, finish_reason=finish, usage=usage)

    def _merge_logprobs(self, logprobs: Any) -> None:
        """Overridden by CompletionAssembler (chat chunks never reach here)."""

    def _merge_call(self, call: ToolCallDelta) -> None:
        entry = self.calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
        if call.id:
            entry["id"] = call.id
        if call.function is not None:
            function: FunctionCallDelta = call.function
            if function.name:
                entry["name"] += function.name
            if function.arguments:
                entry["arguments"] += function.arguments

    def _stream_error(self, chunk: dict[str, Any]) -> InferenceError:
        payload = chunk.get("error") if isinstance(chunk.get("error"), dict) else chunk
        status = payload.get("status") if isinstance(payload.get("status"), int) else 500
        return error_from_response(
            status, {}, json.dumps(chunk), deployment=self.deployment, route=self.route, request_id=self.request_id
        )

    def result(self) -> ChatResult:
        """The answer assembled so far, with metrics up to now."""
        text = self.text
        calls = [
            ToolCall(id=entry["id"], function=FunctionCall(name=entry["name"], arguments=entry["arguments"]))
            for _, entry in sorted(self.calls.items())
        ]
        return ChatResult(
            content=text,
            tool_calls=calls,
            finish_reason=self.finish_reason,
            usage=self.usage,
            metrics=self.clock.metrics(
                request_id=self.request_id, usage=self.usage, finish_reason=self.finish_reason, text=text
            ),
            content_filtered=self.finish_reason == "content_filter",
            content_filter_results=self.filter_results,
            stopped=self.stopped,
            model=self.model,
            response_id=self.response_id,
        )

    @property
    def complete(self) -> bool:
        """True once `[DONE]` or a finish_reason arrived: a stream ending after this is not interrupted."""
        return self.done or self.finish_reason is not None


class CompletionAssembler(StreamAssembler):
    """The stream of a text completion (`text_completion` chunks): the same deltas, a CompletionResult, and each
    chunk's logprobs lists joined."""

    text_chunks = True

    def __init__(self, clock: Stopwatch, *, deployment: str, request_id: str, route: str) -> None:
        super().__init__(clock, deployment=deployment, request_id=request_id, route=route)
        self.logprobs: dict[str, list[Any]] | None = None

    def _merge_logprobs(self, logprobs: Any) -> None:
        if not isinstance(logprobs, dict):
            return
        if self.logprobs is None:
            self.logprobs = {}
        for key, values in logprobs.items():
            if isinstance(values, list):
                self.logprobs.setdefault(key, []).extend(values)

    def result(self) -> CompletionResult:  # type: ignore[override]
        """The completion assembled so far, with metrics up to now."""
        text = self.text
        return CompletionResult(
            text=text,
            finish_reason=self.finish_reason,
            usage=self.usage,
            metrics=self.clock.metrics(
                request_id=self.request_id, usage=self.usage, finish_reason=self.finish_reason, text=text
            ),
            content_filtered=self.finish_reason == "content_filter",
            content_filter_results=self.filter_results,
            stopped=self.stopped,
            model=self.model,
            response_id=self.response_id,
            logprobs=self.logprobs,
        )
