"""Settings of the embedded endpoint, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from local_endpoint.limits import MIB, Limits

# Compiled JSON grammars kept per chat model (least recently used dropped first).
DEFAULT_GRAMMAR_CACHE_SIZE = 64
# The length bound of a json_object / json_schema answer when the request sets no max_tokens: a small model can
# otherwise write one JSON string until the context is full.
DEFAULT_JSON_MAX_TOKENS = 256


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class EndpointConfig:
    """What the environment sets: the key, blocklist terms, queue length, request limits, model paths and sizes."""

    key: str | None = None
    extra_blocklist: tuple[str, ...] = ()
    max_queue: int = 64
    chat_model_path: str | None = None
    text_model_path: str | None = None
    paraphrase_model_path: str | None = None
    tokenizer_path: str | None = None
    chat_context: int = 2048
    threads: int = field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)))
    limits: Limits = field(default_factory=Limits)
    grammar_cache_size: int = DEFAULT_GRAMMAR_CACHE_SIZE
    json_max_tokens: int = DEFAULT_JSON_MAX_TOKENS

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> EndpointConfig:
        """Read `LOCAL_ENDPOINT_*` variables; a malformed value raises ValueError naming the variable."""
        env = os.environ if environ is None else environ
        default = Limits()
        limits = Limits(
            max_body_bytes=_int(env, "LOCAL_ENDPOINT_MAX_BODY_MB", default.max_body_bytes // MIB, 1) * MIB,
            max_messages=_int(env, "LOCAL_ENDPOINT_MAX_MESSAGES", default.max_messages, 1),
            max_inputs=_int(env, "LOCAL_ENDPOINT_MAX_INPUTS", default.max_inputs, 1),
            max_embedding_tokens=_int(env, "LOCAL_ENDPOINT_MAX_EMBEDDING_TOKENS", default.max_embedding_tokens, 1),
        )
        terms = tuple(t.strip() for t in env.get("LOCAL_ENDPOINT_BLOCKLIST", "").split(",") if t.strip())
        return cls(
            key=env.get("LOCAL_ENDPOINT_KEY") or None,
            extra_blocklist=terms,
            max_queue=_int(env, "LOCAL_ENDPOINT_MAX_QUEUE", 64, 0),
            chat_model_path=env.get("LOCAL_ENDPOINT_CHAT_MODEL") or None,
            text_model_path=env.get("LOCAL_ENDPOINT_TEXT_MODEL") or None,
            paraphrase_model_path=env.get("LOCAL_ENDPOINT_PARAPHRASE_MODEL") or None,
            tokenizer_path=env.get("LOCAL_ENDPOINT_TOKENIZER") or None,
            chat_context=_int(env, "LOCAL_ENDPOINT_CHAT_CONTEXT", 2048, 256),
            threads=_int(env, "LOCAL_ENDPOINT_THREADS", max(1, min(4, os.cpu_count() or 1)), 1),
            limits=limits,
            grammar_cache_size=_int(env, "LOCAL_ENDPOINT_GRAMMAR_CACHE", DEFAULT_GRAMMAR_CACHE_SIZE, 1),
            json_max_tokens=_int(env, "LOCAL_ENDPOINT_JSON_MAX_TOKENS", DEFAULT_JSON_MAX_TOKENS, 1),
        )
