"""Parse and validate a chat completions body into what the model needs, raising the API's 422s."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from local_endpoint.errors import FieldProblem, UnprocessableError, invalid_input, not_supported
from local_endpoint.limits import Limits, too_many
from local_endpoint.params import integer, number, reject_extras

if TYPE_CHECKING:
    from local_endpoint.chat_model import ChatModel
    from local_endpoint.grammar_cache import CompiledGrammar, GrammarCache

AZURE_KNOWN = {
    "messages", "frequency_penalty", "stream", "presence_penalty", "temperature", "top_p", "max_tokens",
    "response_format", "stop", "tools", "tool_choice", "seed", "model",
}  # fmt: skip
# OpenAI fields that OpenAI-compatible tools send; accepted on /v1 only.
OPENAI_KNOWN = {
    "n", "user", "stream_options", "max_completion_tokens", "logprobs", "top_logprobs", "parallel_tool_calls",
    "logit_bias", "store", "metadata", "service_tier",
}  # fmt: skip
# Extra parameters llama.cpp understands, with the type each must have, for `extra-parameters: pass-through`.
LLAMA_EXTRAS: dict[str, type] = {
    "top_k": int, "min_p": float, "typical_p": float, "repeat_penalty": float, "tfs_z": float,
    "mirostat_mode": int, "mirostat_tau": float, "mirostat_eta": float, "logit_bias": dict,
}  # fmt: skip
ROLES = {"system", "developer", "user", "assistant", "tool"}
SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEFAULT_TEMPERATURE = 0.7


@dataclass
class ChatRequest:
    """A validated chat request: plain-text messages for the template, llama.cpp sampling and the output format."""

    messages: list[dict[str, str]]
    stream: bool
    sampling: dict[str, Any] = field(default_factory=dict)
    json_schema: dict[str, Any] | None = None
    json_mode: bool = False
    prompt_param: ClassVar[str] = "messages"

    @property
    def prompt_text(self) -> str:
        """Everything the caller wrote, for the prompt blocklist check."""
        return "\n".join(m["content"] for m in self.messages)

    def tokens(self, model: ChatModel) -> list[int]:
        """The messages through the model's chat template, as token ids."""
        return model.prompt_tokens(self.messages)

    def bound_json_length(self, limit: int) -> None:
        """Stop a JSON answer after `limit` tokens when the request set no max_tokens (finish_reason `length` then)."""
        if (self.json_mode or self.json_schema is not None) and self.sampling.get("max_tokens", -1) < 0:
            self.sampling["max_tokens"] = limit


def _message_text(i: int, message: Any) -> dict[str, str]:
    if not isinstance(message, dict):
        raise invalid_input(("messages", i), message, "Input should be a valid dictionary", "dict_type")
    role = message.get("role")
    if not isinstance(role, str) or role not in ROLES:
        raise invalid_input(("messages", i, "role"), role, f"Input should be one of {sorted(ROLES)}", "enum")
    content = message.get("content")
    if content is None:
        if role == "assistant":
            return {"role": role, "content": ""}
        raise invalid_input(("messages", i, "content"), None, "Field required", "missing")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        parts = []
        for j, item in enumerate(content):
            kind = item.get("type") if isinstance(item, dict) else None
            if not isinstance(kind, str):
                kind = None
            if kind == "text" and isinstance(item.get("text"), str):
                parts.append(item["text"])
            elif kind in {"image_url", "input_audio", "audio_url"}:
                raise not_supported(
                    ("messages", i, "content", j, kind),
                    kind,
                    f"{kind} content is not supported: this model reads text only",
                )
            else:
                raise invalid_input(("messages", i, "content", j), item, "Input should be a text content item")
        text = "\n".join(parts)
    else:
        raise invalid_input(("messages", i, "content"), content, "Input should be a string or a list of content items")
    # The chat template knows system/user/assistant/tool; `developer` is the newer name for system.
    return {"role": "system" if role == "developer" else role, "content": text}


def _response_format(body: dict[str, Any], request: ChatRequest) -> None:
    fmt = body.get("response_format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind == "text":
        return
    if kind == "json_object":
        request.json_mode = True
        return
    if kind == "json_schema":
        spec = fmt.get("json_schema")
        if not isinstance(spec, dict):
            raise invalid_input(("response_format", "json_schema"), spec, "Field required", "missing")
        name = spec.get("name")
        if not isinstance(name, str) or not SCHEMA_NAME.match(name):
            raise invalid_input(
                ("response_format", "json_schema", "name"),
                name,
                "Name must be 1-64 characters of a-z, A-Z, 0-9, _ or -",
            )
        schema = spec.get("schema")
        if not isinstance(schema, dict):
            raise invalid_input(("response_format", "json_schema", "schema"), schema, "Input should be a JSON schema")
        request.json_schema = schema
        return
    raise invalid_input(
        ("response_format", "type"), kind, "Input should be 'text', 'json_object' or 'json_schema'", "literal_error"
    )


def _stop(body: dict[str, Any]) -> list[str]:
    stop = body.get("stop")
    if stop is None:
        return []
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not stop or not all(isinstance(s, str) and s for s in stop):
        raise invalid_input(("stop",), stop, "Input should be a non-empty list of non-empty strings", "list_type")
    return stop


INT32 = 2**31


def llama_extras(extras: dict[str, Any]) -> dict[str, Any]:
    # llama.cpp takes these as C ints and floats: anything that does not fit would fail inside the model's thread.
    out: dict[str, Any] = {}
    for name, value in extras.items():
        wanted = LLAMA_EXTRAS[name]
        if wanted is dict:
            if not isinstance(value, dict):
                raise invalid_input((name,), value, "Input should be a map of token id to bias", "dict_type")
            try:
                bias = {int(k): float(v) for k, v in value.items()}
            except (TypeError, ValueError, OverflowError) as exc:
                raise invalid_input((name,), value, "Keys should be token ids and values numbers") from exc
            if not all(0 <= k < INT32 and math.isfinite(v) for k, v in bias.items()):
                raise invalid_input((name,), value, "Keys should be token ids and values finite numbers")
            out[name] = bias
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (wanted is int and isinstance(value, float))
        ):
            raise invalid_input((name,), value, f"Input should be a valid {wanted.__name__}", f"{wanted.__name__}_type")
        elif not -INT32 <= value < INT32:
            raise invalid_input((name,), value, f"Input should be between {-INT32} and {INT32 - 1}", "value_error")
        else:
            out[name] = wanted(value)
    return out


def parse_chat(
    body: Any, *, extra_mode: str, openai_style: bool, max_messages: int = Limits.max_messages
) -> ChatRequest:
    """Validate `body` for this model; `openai_style` (the /v1 routes) also accepts OpenAI's own fields."""
    if not isinstance(body, dict):
        raise invalid_input((), body, "The body should be a JSON object", "dict_type")
    unsupported = [
        FieldProblem((name,), body[name], f"'{name}' is not supported: this model has no tool calling", "not_supported")
        for name in ("tools", "tool_choice")
        if body.get(name) is not None
    ]
    if unsupported:
        raise UnprocessableError("parameter_not_supported", unsupported)
    known = AZURE_KNOWN | OPENAI_KNOWN if openai_style else AZURE_KNOWN
    extras = llama_extras(reject_extras(body, known, extra_mode, set(LLAMA_EXTRAS)))

    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid_input(("messages",), messages, "Input should be a list with at least 1 message", "too_short")
    if len(messages) > max_messages:
        raise too_many("messages", len(messages), max_messages, "messages", "LOCAL_ENDPOINT_MAX_MESSAGES")
    stream = body.get("stream", False)
    if stream is None:
        stream = False
    if not isinstance(stream, bool):
        raise invalid_input(("stream",), stream, "Input should be a valid boolean", "bool_type")
    request = ChatRequest(messages=[_message_text(i, m) for i, m in enumerate(messages)], stream=stream)

    temperature = number(body, "temperature", 0.0, 2.0 if openai_style else 1.0)
    top_p = number(body, "top_p", 0.0, 1.0)
    max_tokens = integer(body, "max_tokens", 1)
    if openai_style:
        max_tokens = integer(body, "max_completion_tokens", 1) or max_tokens
        if body.get("n") not in (None, 1):
            raise not_supported(("n",), body["n"], "Only n=1 is supported")
        if body.get("logprobs"):
            raise not_supported(("logprobs",), body["logprobs"], "logprobs are not supported")
        if body.get("logit_bias") is not None:
            extras["logit_bias"] = llama_extras({"logit_bias": body["logit_bias"]})["logit_bias"]
    request.sampling = sampling(body, temperature, top_p, max_tokens if max_tokens is not None else -1, extras)
    _response_format(body, request)
    return request


def sampling(
    body: dict[str, Any], temperature: float | None, top_p: float | None, max_tokens: int, extras: dict[str, Any]
) -> dict[str, Any]:
    """llama.cpp's sampling arguments from validated values and the body's penalties, `stop` and `seed` (chat and
    text completions alike)."""
    out = {
        "temperature": DEFAULT_TEMPERATURE if temperature is None else temperature,
        "top_p": 1.0 if top_p is None else top_p,
        "max_tokens": max_tokens,
        "presence_penalty": number(body, "presence_penalty", -2.0, 2.0) or 0.0,
        "frequency_penalty": number(body, "frequency_penalty", -2.0, 2.0) or 0.0,
        "stop": _stop(body),
        **extras,
    }
    seed = integer(body, "seed")
    if seed is not None:
        out["seed"] = seed & 0xFFFFFFFF
    return out


def build_grammar(request: ChatRequest, grammars: GrammarCache) -> CompiledGrammar | None:
    """The compiled llama.cpp grammar for the requested JSON output from the model's cache (compiled on a miss), or
    None for text; a schema llama.cpp cannot follow is a 422. A miss can take a while: call it off the event loop."""
    if request.json_schema is not None:
        from local_endpoint.grammar_cache import GrammarError

        try:
            return grammars.json_schema(request.json_schema)
        except GrammarError as exc:
            raise not_supported(
                ("response_format", "json_schema", "schema"),
                request.json_schema,
                f"llama.cpp cannot follow this schema: {exc}",
            ) from exc
    return grammars.json_object() if request.json_mode else None
