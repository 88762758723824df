"""Benchmark of the embedded endpoint: HTTP overhead on chat, embeddings per second, image descriptors per second.

Prints ratios against llama-cpp-python called in-process (target: HTTP/in-process time at most 1.1), embeddings per
second (target: at least 400/s on 2 cores) and image descriptors per second.
Run: `.venv/bin/python bench/local_endpoint.py`. In-process and HTTP rounds alternate so load from other processes
falls on both alike.
"""

from __future__ import annotations

import base64
import io
import json
import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from local_endpoint.chat_model import ChatModel, GenerationJob, load_chat_model
from local_endpoint.config import EndpointConfig
from local_endpoint.text_embedder import load_text_embedder
from tests.fixtures.local_endpoint import run_local_endpoint

API = {"api-version": "2024-05-01-preview"}
PROMPT = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]
MAX_TOKENS = 128
ROUNDS = 5


def in_process_round(model: ChatModel) -> tuple[float, float]:
    """(time to first token, tokens per second) with llama-cpp-python called in this process."""
    job = GenerationJob(model.prompt_tokens(PROMPT), {"max_tokens": MAX_TOKENS, "temperature": 0})
    first: list[float] = []
    started = time.perf_counter()
    outcome = model.generate(job, lambda _text: first.append(time.perf_counter()), threading.Event())
    elapsed = time.perf_counter() - started
    return (first[0] if first else started) - started, outcome.completion_tokens / elapsed


def http_round(client: httpx.Client, url: str) -> tuple[float, float]:
    """(time to first content, completion tokens per second) through the streaming HTTP route."""
    body = {"messages": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0, "stream": True}
    started = time.perf_counter()
    first = None
    usage = None
    with client.stream("POST", f"{url}/smollm2-135m-instruct/chat/completions", params=API, json=body) as answer:
        for line in answer.iter_lines():
            if first is None and '"content":"' in line and '"content":""' not in line:
                first = time.perf_counter()
            if '"usage"' in line:
                usage = json.loads(line[6:])["usage"]
    elapsed = time.perf_counter() - started
    return (first or started) - started, (usage["completion_tokens"] if usage else 0) / elapsed


EMBED_TEXTS = [f"Sentence number {i} talks about the weather, the sea and a small boat." for i in range(64)]


def embeddings_in_process_per_second() -> float:
    """The same sentences through the same ONNX model called in-process: the peer of the HTTP figure."""
    embedder = load_text_embedder(EndpointConfig.from_environ())
    embedder.embed(EMBED_TEXTS)
    started = time.perf_counter()
    for _ in range(8):
        embedder.embed(EMBED_TEXTS)
    return 8 * len(EMBED_TEXTS) / (time.perf_counter() - started)


def embeddings_per_second(url: str) -> float:
    """Sentences embedded per second through HTTP, in batches of 64."""
    texts = EMBED_TEXTS
    with httpx.Client(timeout=120) as client:
        client.post(f"{url}/all-minilm-l6-v2/embeddings", params=API, json={"input": texts})
        started = time.perf_counter()
        for _ in range(8):
            client.post(f"{url}/all-minilm-l6-v2/embeddings", params=API, json={"input": texts}).raise_for_status()
        return 8 * len(texts) / (time.perf_counter() - started)


def images_per_second(url: str) -> float:
    """Photo-sized (640x480 JPEG) images described per second through HTTP, in batches of 16."""
    images = []
    for i in range(16):
        img = Image.new("RGB", (640, 480), (20 * i % 255, 120, 200))
        ImageDraw.Draw(img).ellipse([40 + 10 * i, 60, 300 + 10 * i, 320], fill=(250, 200 - 5 * i, 40))
        buffer = io.BytesIO()
        img.save(buffer, format="JPEG")
        images.append({"image": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()})
    with httpx.Client(timeout=120) as client:
        started = time.perf_counter()
        for _ in range(4):
            answer = client.post(f"{url}/image-descriptor/images/embeddings", params=API, json={"input": images})
            answer.raise_for_status()
        return 4 * len(images) / (time.perf_counter() - started)


def main() -> None:
    """Run every measurement and print one line each with its ratio or target."""
    model = load_chat_model(EndpointConfig.from_environ())
    local, remote = [], []
    with run_local_endpoint() as url, httpx.Client(timeout=120) as client:
        http_round(client, url)  # warm-up: first request pays for page-ins
        for _ in range(ROUNDS):
            local.append(in_process_round(model))
            remote.append(http_round(client, url))
        embed_rate = embeddings_per_second(url)
        embed_local_rate = embeddings_in_process_per_second()
        image_rate = images_per_second(url)
    local_ttft, local_rate = (statistics.median(x) for x in zip(*local, strict=True))
    http_ttft, http_rate = (statistics.median(x) for x in zip(*remote, strict=True))
    ratio = local_rate / http_rate if http_rate else float("inf")
    print(
        f"chat tokens/s: in-process {local_rate:.1f}, HTTP {http_rate:.1f}; overhead ratio {ratio:.2f} (target <= 1.1)"
    )
    print(
        f"chat time to first token: in-process {local_ttft * 1000:.0f} ms, HTTP {http_ttft * 1000:.0f} ms; "
        f"ratio {http_ttft / local_ttft if local_ttft else float('inf'):.2f} (HTTP includes the blocklist hold-back)"
    )
    print(
        f"text embeddings: HTTP {embed_rate:.0f}/s, in-process {embed_local_rate:.0f}/s; "
        f"HTTP/in-process {embed_rate / embed_local_rate:.2f}; HTTP/target {embed_rate / 400:.2f} (target >= 400/s)"
    )
    print(f"image descriptors: {image_rate:.0f}/s (640x480 JPEG)")


if __name__ == "__main__":
    main()
