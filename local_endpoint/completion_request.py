"""Parse and validate a text completions body (OpenAI's classic `/completions`), raising the API's 422s."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from local_endpoint.chat_request import LLAMA_EXTRAS, llama_extras, sampling
from local_endpoint.errors import FieldProblem, UnprocessableError, invalid_input, not_supported
from local_endpoint.params import integer, number, reject_extras

if TYPE_CHECKING:
    from local_endpoint.chat_model import ChatModel

COMPLETION_KNOWN = {
    "prompt", "max_tokens", "temperature", "top_p", "stop", "seed", "stream", "echo", "logprobs", "suffix",
    "presence_penalty", "frequency_penalty", "model",
}  # fmt: skip
# OpenAI fields that OpenAI-compatible tools send; accepted on /v1 only (as for chat).
OPENAI_COMPLETION_KNOWN = {"n", "best_of", "user", "stream_options", "logit_bias"}
# OpenAI's (and vLLM's, and llama-cpp-python's) default for /completions: a short continuation, not the whole window.
DEFAULT_MAX_TOKENS = 16


@dataclass
class CompletionRequest:
    """A validated text completion: the raw prompt, llama.cpp sampling, and whether the prompt is echoed back."""

    prompt: str
    stream: bool
    echo: bool = False
    sampling: dict[str, Any] = field(default_factory=dict)
    prompt_param: ClassVar[str] = "prompt"

    @property
    def prompt_text(self) -> str:
        """What the caller wrote, for the prompt blocklist check."""
        return self.prompt

    def tokens(self, model: ChatModel) -> list[int]:
        """The prompt as token ids, no chat template."""
        return model.text_tokens(self.prompt)


def _unsupported(body: dict[str, Any]) -> None:
    # Both are known parameters this model cannot honour: a 422 naming them, before any other check.
    problems = []
    if body.get("suffix") not in (None, ""):
        why = "'suffix' is not supported: this model has no fill-in-the-middle tokens"
        problems.append(FieldProblem(("suffix",), body["suffix"], why, "not_supported"))
    if body.get("logprobs") is not None:
        # llama.cpp only returns them when the model keeps every position's logits (n_ctx x vocabulary floats, about
        # 400 MB here, and slower decoding for every request): not worth it for a feature few prompts use.
        why = "'logprobs' is not supported by this endpoint"
        problems.append(FieldProblem(("logprobs",), body["logprobs"], why, "not_supported"))
    if problems:
        raise UnprocessableError("parameter_not_supported", problems)


def _prompt(body: dict[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt and all(isinstance(item, str) for item in prompt):
        if len(prompt) > 1:
            raise not_supported(("prompt",), len(prompt), "Only one prompt per request is supported")
        prompt = prompt[0]
    elif isinstance(prompt, list) and prompt and all(isinstance(item, int | list) for item in prompt):
        raise not_supported(("prompt",), prompt[:8], "Prompts given as token ids are not supported; send text")
    if prompt is None:
        raise invalid_input(("prompt",), None, "Field required", "missing")
    if not isinstance(prompt, str):
        raise invalid_input(("prompt",), prompt, "Input should be a valid string", "string_type")
    if not prompt:
        raise invalid_input(("prompt",), prompt, "Input should have at least 1 character", "string_too_short")
    return prompt


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_input((name,), value, "Input should be a valid boolean", "bool_type")
    return value


def parse_completion(body: Any, *, extra_mode: str, openai_style: bool) -> CompletionRequest:
    """Validate `body` for this model; `openai_style` (the /v1 routes) also accepts OpenAI's own fields."""
    if not isinstance(body, dict):
        raise invalid_input((), body, "The body should be a JSON object", "dict_type")
    _unsupported(body)
    known = COMPLETION_KNOWN | OPENAI_COMPLETION_KNOWN if openai_style else COMPLETION_KNOWN
    extras = llama_extras(reject_extras(body, known, extra_mode, set(LLAMA_EXTRAS)))
    request = CompletionRequest(prompt=_prompt(body), stream=_flag(body, "stream"), echo=_flag(body, "echo"))

    temperature = number(body, "temperature", 0.0, 2.0 if openai_style else 1.0)
    top_p = number(body, "top_p", 0.0, 1.0)
    max_tokens = integer(body, "max_tokens", 1)
    if openai_style:
        for name in ("n", "best_of"):
            if body.get(name) not in (None, 1):
                raise not_supported((name,), body[name], f"Only {name}=1 is supported")
        if body.get("logit_bias") is not None:
            extras["logit_bias"] = llama_extras({"logit_bias": body["logit_bias"]})["logit_bias"]
    limit = DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens
    request.sampling = sampling(body, temperature, top_p, limit, extras)
    return request
