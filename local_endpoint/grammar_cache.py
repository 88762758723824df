"""llama.cpp grammars for JSON output, compiled once per schema: a schema becomes GBNF and is parsed by llama.cpp
once, and each generation clones the parsed grammar. The cache is a bounded LRU, safe to fill from worker threads.
Imports llama_cpp: import this module where the model is loaded or used, not at the server's start."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import llama_cpp
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

DEFAULT_CACHE_SIZE = 64
JSON_OBJECT_KEY = "json_object"


class GrammarError(ValueError):
    """llama.cpp cannot follow this schema (the converter refused it, or llama.cpp could not parse its GBNF)."""


class CompiledGrammar(LlamaGrammar):
    """A grammar parsed by llama.cpp for one model's vocabulary, kept in its start state; still a LlamaGrammar, so
    llama-cpp-python's own sampler can use its GBNF text too."""

    def __init__(self, gbnf: str, vocab: Any) -> None:
        super().__init__(_grammar=gbnf)
        self._clone = llama_cpp.llama_sampler_clone
        self._free = llama_cpp.llama_sampler_free
        template = llama_cpp.llama_sampler_init_grammar(vocab, gbnf.encode("utf-8"), self._root.encode("utf-8"))
        if not template:
            raise GrammarError("llama.cpp could not parse the grammar made from it")
        self._template = template

    def fresh_sampler(self) -> Any:
        """A new llama.cpp grammar sampler in the start state (a clone: no parsing); the caller frees it."""
        return self._clone(self._template)

    def __del__(self) -> None:
        template = getattr(self, "_template", None)
        if template:
            self._free(template)
            self._template = None


def schema_key(schema: dict[str, Any]) -> str:
    """The cache key of a schema: its compact JSON, key order kept (the grammar writes properties in that order)."""
    return "schema:" + json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


class GrammarCache:
    """Compiled grammars by key, the least recently used dropped beyond `size`; `compiles` counts real compiles."""

    def __init__(self, vocab: Any, size: int = DEFAULT_CACHE_SIZE) -> None:
        self._vocab = vocab
        self.size = size
        self._entries: OrderedDict[str, CompiledGrammar] = OrderedDict()
        self._lock = threading.Lock()
        self.compiles = 0

    def __len__(self) -> int:
        return len(self._entries)

    def json_object(self) -> CompiledGrammar:
        """The grammar of any JSON object (`response_format: json_object`)."""
        return self._get(JSON_OBJECT_KEY, lambda: JSON_GBNF)

    def json_schema(self, schema: dict[str, Any]) -> CompiledGrammar:
        """The grammar of `schema`; GrammarError when llama.cpp cannot follow it."""

        def convert() -> str:
            try:
                return json_schema_to_gbnf(json.dumps(schema))
            except Exception as exc:
                # The converter raises whatever its walk hits (KeyError, ValueError, RecursionError...).
                raise GrammarError(f"{type(exc).__name__}: {exc}") from exc

        return self._get(schema_key(schema), convert)

    def _get(self, key: str, gbnf: Callable[[], str]) -> CompiledGrammar:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                return found
        # Compiled outside the lock: another schema's compile need not wait for this one.
        compiled = CompiledGrammar(gbnf(), self._vocab)
        with self._lock:
            self.compiles += 1
            self._entries[key] = compiled
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return compiled
