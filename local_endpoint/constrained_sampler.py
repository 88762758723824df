"""Grammar-constrained sampling that consults the grammar only where it must, as llama.cpp's own `common_sampler`
does: sample from the plain chain first, check that one token against the grammar, and only when the grammar refuses
it, mask the whole vocabulary with the grammar and sample again.

llama-cpp-python 0.3.36 puts the grammar inside the chain, so every token pays for a grammar pass over all 49,152
vocabulary entries (7-20 ms of CPU on SmolLM2, as much as the forward pass itself); a one-token check costs about
2 µs. Greedy answers are the same token for token (the grammar only masks; the argmax is kept when allowed). Imports
llama_cpp: import it where the model is loaded."""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import Llama
from llama_cpp._internals import LlamaContext, LlamaSampler

from local_endpoint.grammar_cache import CompiledGrammar

TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)], align=True)


class _Candidates:
    """A llama_token_data_array over a numpy buffer of `n` entries, refilled from logits for each pass."""

    def __init__(self, n: int) -> None:
        assert TOKEN_DATA.itemsize == ctypes.sizeof(llama_cpp.llama_token_data)
        self.n = n
        self.ids = np.arange(n, dtype=np.int32)
        self.buffer = np.zeros(n, dtype=TOKEN_DATA)
        self.array = llama_cpp.llama_token_data_array(
            data=self.buffer.ctypes.data_as(llama_cpp.llama_token_data_p), size=n, selected=-1, sorted=False
        )
        self.ref = ctypes.byref(self.array)

    def fill(self, logits: np.ndarray) -> None:
        # Samplers sort and shrink the array in place, so ids, size and flags are all set again.
        self.buffer["id"] = self.ids
        self.buffer["logit"] = logits
        self.buffer["p"] = 0.0
        self.array.size = self.n
        self.array.selected = -1
        self.array.sorted = False

    def selected(self) -> int:
        return int(self.array.data[self.array.selected].id)


class GrammarCheckedSampler:
    """Stands in for llama-cpp-python's LlamaSampler (`sample`, `accept`, `reset`, `close`): the plain chain, plus a
    grammar consulted one token at a time. `full_passes` counts the tokens the grammar refused."""

    def __init__(self, chain: LlamaSampler, grammar: CompiledGrammar, n_vocab: int) -> None:
        self._chain = chain
        self._grammar = grammar.fresh_sampler()
        self._all = _Candidates(n_vocab)
        self._one = _Candidates(1)
        self.tokens = 0
        self.full_passes = 0

    def _allowed(self, token: int) -> bool:
        self._one.buffer[0] = (token, 0.0, 0.0)
        self._one.array.size = 1
        self._one.array.selected = -1
        llama_cpp.llama_sampler_apply(self._grammar, self._one.ref)
        return bool(np.isfinite(self._one.buffer[0]["logit"]))

    def sample(self, ctx: LlamaContext, idx: int = -1) -> int:
        """The next token from the logits at output `idx` (negative counts from the last); accepted by both."""
        pointer = llama_cpp.llama_get_logits_ith(ctx.ctx, idx)
        logits = np.ctypeslib.as_array(pointer, shape=(self._all.n,))
        self._all.fill(logits)
        llama_cpp.llama_sampler_apply(self._chain.sampler, self._all.ref)
        token = self._all.selected()
        if not self._allowed(token):
            self.full_passes += 1
            self._all.fill(logits)
            llama_cpp.llama_sampler_apply(self._grammar, self._all.ref)
            llama_cpp.llama_sampler_apply(self._chain.sampler, self._all.ref)
            token = self._all.selected()
        self.accept(token)
        return token

    def accept(self, token: int) -> None:
        """Record `token` in the grammar's state and the chain's (penalties)."""
        self.tokens += 1
        llama_cpp.llama_sampler_accept(self._grammar, token)
        self._chain.accept(token)

    def reset(self) -> None:
        """Back to the start state of the grammar and the chain."""
        llama_cpp.llama_sampler_reset(self._grammar)
        self._chain.reset()

    def close(self) -> None:
        """Free the grammar clone and the chain."""
        if self._grammar:
            llama_cpp.llama_sampler_free(self._grammar)
            self._grammar = None
        self._chain.close()

    def __del__(self) -> None:
        self.close()


@contextlib.contextmanager
def _without_extra_buffer_types() -> Iterator[None]:
    """Models loaded inside keep their weights in plain CPU buffers: no repacking into "extra" buffer types.

    On CPUs with AMX (Sapphire Rapids and later), a native build of llama.cpp repacks the weights into an AMX buffer and
    the first decode then crashes with a segmentation fault in `ggml_backend_amx_mul_mat` (ggml-org/llama.cpp#20824,
    closed unfixed; seen here on SmolLM2's first answer). `Llama()` takes no argument for `use_extra_bufts`, so its
    default is swapped for the time of the load. The cost is llama.cpp's interleaved layout of some quantized
    weights for faster matrix products: SmolLM2-135M answered at about 60 tokens/s on 2 cores without it, as fast as
    the 15 ms per token in bench/RESULTS.md, recorded with it on a machine without AMX."""
    module = llama_cpp.llama.llama_cpp
    stock = module.llama_model_default_params

    def plain_buffers() -> Any:
        params = stock()
        params.use_extra_bufts = False
        return params

    module.llama_model_default_params = plain_buffers
    try:
        yield
    finally:
        module.llama_model_default_params = stock


class ConstrainedLlama(Llama):
    """llama_cpp.Llama whose sampler checks a CompiledGrammar token by token (other grammars go the stock way), loaded
    without extra buffer types (see `_without_extra_buffer_types`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _without_extra_buffer_types():
            super().__init__(*args, **kwargs)

    def _init_sampler(self, *args: Any, grammar: Any = None, **kwargs: Any) -> Any:
        if not isinstance(grammar, CompiledGrammar):
            return super()._init_sampler(*args, grammar=grammar, **kwargs)
        chain = super()._init_sampler(*args, grammar=None, **kwargs)
        return GrammarCheckedSampler(chain, grammar, self._n_vocab)
