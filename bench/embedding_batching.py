"""Benchmark: text embeddings over HTTP against the same model in-process, where the time goes, and the batches the
server formed.

    .venv/bin/python bench/embedding_batching.py [--texts 5000] [--short-texts 5000] [--batch 64] [--in-flight 2]
        [--deployment all-minilm-l6-v2] [--json out.json]

1. Where the time goes for one request of 64 mixed texts (3 to 96 words), in-process: tokenising, the ONNX session,
   the padding each way of forming batches adds (a property of the texts, not of the machine), and JSON encoding of
   the vectors (the former per-float path, orjson, base64).
2. The limit: the same model in-process on all the mixed texts in one call (sorted by length, so little padding).
3. HTTP: the same texts in requests of 64 with 2 in flight (float and base64), the limit measured again after them,
   and the runs the server formed (requests and texts per run, rows per ONNX call, from `x-embedding-batch`).
4. Short texts (3 to 12 words): HTTP against the in-process limit likewise.
Goal: HTTP >= 0.9x the limit on mixed texts, and >= 500 texts/s on short texts. The machine is shared: the limit is
measured before and after the HTTP rounds and their mean is the reference, so load falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local_endpoint.config import EndpointConfig
from local_endpoint.deployments import PARAPHRASE_EMBEDDINGS, TEXT_EMBEDDINGS
from local_endpoint.embeddings_request import encode_vectors, render_json
from local_endpoint.model_files import asset_file
from local_endpoint.text_embedder import (
    TOKENIZER_ASSET,
    TextEmbedder,
    load_paraphrase_embedder,
    load_text_embedder,
    plan_batches,
)
from tests.fixtures.local_endpoint import run_local_endpoint

API = {"api-version": "2024-05-01-preview"}
LOADERS = {TEXT_EMBEDDINGS: load_text_embedder, PARAPHRASE_EMBEDDINGS: load_paraphrase_embedder}


def mixed_texts(count: int, low: int, high: int, seed: int = 7) -> list[str]:
    """`count` texts of `low` to `high` words (uniform), the words drawn from the tokenizer's whole-word vocabulary."""
    vocab = json.loads(asset_file(TOKENIZER_ASSET, None).read_text())["model"]["vocab"]
    words = sorted(w for w, i in vocab.items() if 2000 <= i < 20000 and w.isalpha())
    rng = random.Random(seed)
    return [" ".join(rng.choice(words) for _ in range(rng.randint(low, high))) for _ in range(count)]


def _ms(work: Any, repeat: int = 3) -> float:
    """Best of `repeat` timings of `work()`, in milliseconds (the best is the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best * 1000


def _padding(lengths: list[int], batches: list[list[int]]) -> float:
    """Padded tokens computed over real tokens, minus one (0.25: a quarter more work than the text holds)."""
    computed = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    return computed / sum(lengths) - 1


def _fixed_batches(lengths: list[int], size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[s : s + size] for s in range(0, len(order), size)]


def where_the_time_goes(embedder: TextEmbedder, texts: list[str], batch: int) -> dict[str, Any]:
    """Milliseconds per request of `batch` texts for each stage, and padding per way of forming batches."""
    one = texts[:batch]
    encodings = embedder.tokenize(one)
    vectors = embedder.run(encodings).vectors
    lengths = [len(e.ids) for e in embedder.tokenize(texts)]
    per_request = [lengths[s : s + batch] for s in range(0, len(lengths), batch)]
    two = [lengths[s : s + 2 * batch] for s in range(0, len(lengths), 2 * batch)]

    def mean_padding(groups: list[list[int]], plan: Any) -> float:
        return statistics.mean(_padding(g, plan(g)) for g in groups if g)

    return {
        "tokenize_ms": _ms(lambda: embedder.tokenize(one)),
        "onnx_ms": _ms(lambda: embedder.run(encodings)),
        "json_float_former_ms": _ms(lambda: json.dumps([{"embedding": [float(x) for x in v]} for v in vectors])),
        "json_float_orjson_ms": _ms(lambda: render_json([{"embedding": v} for v in encode_vectors(vectors, "float")])),
        "json_base64_ms": _ms(lambda: orjson.dumps([{"embedding": v} for v in encode_vectors(vectors, "base64")])),
        "padding_fixed16_per_request": mean_padding(per_request, lambda g: _fixed_batches(g, 16)),
        "padding_planned_per_request": mean_padding(per_request, plan_batches),
        "padding_planned_two_requests": mean_padding(two, plan_batches),
        "padding_planned_all_texts": _padding(lengths, plan_batches(lengths)),
    }


def in_process_rate(embedder: TextEmbedder, texts: list[str]) -> float:
    """Texts per second with every text in one call (tokenising included; sorted by length inside)."""
    started = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - started)


async def http_rate(
    url: str, deployment: str, texts: list[str], batch: int, in_flight: int, encoding: str
) -> dict[str, Any]:
    """Texts per second over HTTP in requests of `batch` with `in_flight` at a time, and the runs the server formed."""
    chunks = [texts[s : s + batch] for s in range(0, len(texts), batch)]
    runs: list[dict[str, int]] = []
    pending = list(range(len(chunks)))

    async def client(http: httpx.AsyncClient) -> None:
        while pending:
            chunk = chunks[pending.pop(0)]
            body = {"input": chunk, "encoding_format": encoding}
            answer = await http.post(f"/{deployment}/embeddings", params=API, json=body)
            answer.raise_for_status()
            data = answer.json()["data"]
            if encoding == "base64":
                np.frombuffer(base64.b64decode(data[0]["embedding"]), dtype="<f4")
            assert len(data) == len(chunk)
            fields = dict(part.strip().split("=") for part in answer.headers["x-embedding-batch"].split(";"))
            runs.append({k: int(v) for k, v in fields.items()})

    async with httpx.AsyncClient(base_url=url, timeout=600) as http:
        await http.post(f"/{deployment}/embeddings", params=API, json={"input": texts[:batch]})
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(in_flight)))
        elapsed = time.perf_counter() - started
    requests_per_run = Counter(r["requests"] for r in runs)
    return {
        "encoding": encoding,
        "texts_per_s": len(texts) / elapsed,
        "requests_per_run": dict(sorted(requests_per_run.items())),
        "mean_texts_per_run": statistics.mean(r["texts"] for r in runs),
        "mean_rows_per_onnx_call": sum(r["texts"] for r in runs) / sum(r["onnx_calls"] for r in runs),
        "max_rows_per_onnx_call": max(r["max_rows"] for r in runs),
    }


def compare(
    url: str, embedder: TextEmbedder, deployment: str, texts: list[str], batch: int, in_flight: int, formats: list[str]
) -> dict[str, Any]:
    """The in-process limit before and after the HTTP rounds (one per encoding), and each round's ratio to it."""
    before = in_process_rate(embedder, texts)
    rounds = [asyncio.run(http_rate(url, deployment, texts, batch, in_flight, e)) for e in formats]
    after = in_process_rate(embedder, texts)
    limit = (before + after) / 2
    for result in rounds:
        result["ratio_to_limit"] = result["texts_per_s"] / limit
    return {"limit_before": before, "limit_after": after, "limit": limit, "http": rounds}


def _print_comparison(title: str, result: dict[str, Any], target: str) -> None:
    print(
        f"\n{title}: in-process limit {result['limit']:.0f}/s "
        f"(before {result['limit_before']:.0f}, after {result['limit_after']:.0f})"
    )
    for r in result["http"]:
        print(
            f"  HTTP {r['encoding']:<7} {r['texts_per_s']:6.0f}/s = {r['ratio_to_limit']:.2f}x the limit; runs formed:"
            f" requests/run {r['requests_per_run']}, mean texts/run {r['mean_texts_per_run']:.0f},"
            f" rows/ONNX call mean {r['mean_rows_per_onnx_call']:.1f} max {r['max_rows_per_onnx_call']}"
        )
    print(f"  target: {target}")


def main() -> None:
    """Run the four parts and print them (and JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=5000, help="mixed texts (3 to 96 words)")
    parser.add_argument("--short-texts", type=int, default=5000, help="short texts (3 to 12 words)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--in-flight", type=int, default=2)
    parser.add_argument("--deployment", choices=sorted(LOADERS), default=TEXT_EMBEDDINGS)
    parser.add_argument("--encodings", default="float,base64", help="encoding_format of the HTTP rounds")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    encodings = args.encodings.split(",")

    embedder = LOADERS[args.deployment](EndpointConfig.from_environ())
    mixed = mixed_texts(args.texts, 3, 96)
    short = mixed_texts(args.short_texts, 3, 12, seed=11)
    stages = where_the_time_goes(embedder, mixed, args.batch)
    print(f"where the time goes, one request of {args.batch} mixed texts ({args.deployment}, in-process):")
    for key, value in stages.items():
        print(f"  {key:<34} {value:8.2f}" + (" ms" if key.endswith("_ms") else " (extra work from padding)"))
    with run_local_endpoint() as url:
        mixed_result = compare(url, embedder, args.deployment, mixed, args.batch, args.in_flight, encodings)
        short_result = compare(url, embedder, args.deployment, short, args.batch, args.in_flight, encodings)
    _print_comparison(f"{len(mixed)} mixed texts (3-96 words)", mixed_result, "HTTP >= 0.9x the limit")
    _print_comparison(f"{len(short)} short texts (3-12 words)", short_result, "HTTP >= 500/s")
    if args.json:
        args.json.write_text(json.dumps({"stages": stages, "mixed": mixed_result, "short": short_result}, indent=2))


if __name__ == "__main__":
    main()
