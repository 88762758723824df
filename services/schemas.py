"""Typed requests and results of the Azure AI Model Inference API (pydantic models)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

# --- results -------------------------------------------------------------------------------------------------------


class Usage(BaseModel):
    """Token counts as the endpoint reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Metrics(BaseModel):
    """Timing and usage of one call; `tokens_estimated` is True when tokens_per_s is not from reported usage."""

    ttft_s: float | None = None
    total_s: float
    tokens_per_s: float | None = None
    tokens_estimated: bool = False
    request_id: str
    usage: Usage | None = None
    finish_reason: str | None = None
    retries: int = 0  # attempts that failed and were sent again before this answer
    retry_wait_s: float = 0.0  # time spent waiting between those attempts
    retry_reasons: list[str] = Field(default_factory=list)  # why each was retried ("429", "503", "connect")
    trace_id: str | None = None  # the trace this call belongs to (the Traces page opens it)


class ModelInfo(BaseModel):
    """The answer of `/info`."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_type: str
    model_provider_name: str


class FunctionCall(BaseModel):
    name: str
    arguments: str = ""


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class FunctionCallDelta(BaseModel):
    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(BaseModel):
    """A piece of a streamed tool call; pieces with the same index belong to one call."""

    index: int = 0
    id: str | None = None
    type: Literal["function"] | None = None
    function: FunctionCallDelta | None = None


class ChatResult(BaseModel):
    """A complete (or, with `stopped`, a partial) assistant answer with its metrics."""

    content: str = ""
    role: Literal["assistant"] = "assistant"
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    metrics: Metrics
    content_filtered: bool = False
    content_filter_results: dict[str, Any] | None = None
    stopped: bool = False
    model: str | None = None  # the model that answered, as the endpoint named it
    response_id: str | None = None  # the completion's id (`chatcmpl-...`), when the endpoint sent one


class CompletionResult(BaseModel):
    """A text completion (`/completions`: the prompt continued as written) with its metrics; with `stopped`, the
    part that arrived. `logprobs` is the endpoint's object (`tokens`, `token_logprobs`, `top_logprobs`,
    `text_offset`) when it was asked for and served."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    metrics: Metrics
    content_filtered: bool = False
    content_filter_results: dict[str, Any] | None = None
    stopped: bool = False
    model: str | None = None  # the model that answered, as the endpoint named it
    response_id: str | None = None  # the completion's id (`cmpl-...`), when the endpoint sent one
    logprobs: dict[str, Any] | None = None


class StreamDelta(BaseModel):
    """One streamed piece: some content, tool-call pieces, and on the last chunk finish_reason and usage."""

    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    finish_reason: str | None = None
    usage: Usage | None = None


FloatMatrix = Annotated[
    np.ndarray,
    PlainSerializer(lambda array: array.tolist(), return_type=list),
    WithJsonSchema({"type": "array", "items": {"type": "array", "items": {"type": "number"}}}),
]


class EmbeddingsResult(BaseModel):
    """Vectors as a float32 array of shape (n, d), in input order."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    vectors: FloatMatrix
    model: str | None = None
    usage: Usage | None = None
    metrics: Metrics


class ImageInput(BaseModel):
    """An image for image embeddings: bytes, a file path, or a data URL; optionally with text."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    image: bytes | Path | str
    text: str | None = None


# --- messages ------------------------------------------------------------------------------------------------------


class TextContentItem(BaseModel):
    type: Literal["text"] = "text"
    text: str


class ImageUrl(BaseModel):
    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageContentItem(BaseModel):
    type: Literal["image_url"] = "image_url"
    image_url: ImageUrl


class InputAudio(BaseModel):
    data: str
    format: Literal["wav", "mp3"]


class AudioContentItem(BaseModel):
    type: Literal["input_audio"] = "input_audio"
    input_audio: InputAudio


ContentItem = TextContentItem | ImageContentItem | AudioContentItem


class SystemMessage(BaseModel):
    role: Literal["system"] = "system"
    content: str


class DeveloperMessage(BaseModel):
    role: Literal["developer"] = "developer"
    content: str


class UserMessage(BaseModel):
    role: Literal["user"] = "user"
    content: str | list[ContentItem]


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None


class ToolMessage(BaseModel):
    role: Literal["tool"] = "tool"
    content: str
    tool_call_id: str


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage


# --- tools ---------------------------------------------------------------------------------------------------------


class FunctionDefinition(BaseModel):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolDefinition(BaseModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition
