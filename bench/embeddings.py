"""Benchmark: embed_many's parallel batches against one batch at a time, and projection times by method and size.

    PYTHONPATH=. .venv/bin/python bench/embeddings.py [--texts 2048] [--delay 0.05] [--quick] [--json out.json]

The throughput part uses a loopback server that takes a fixed time per request (the toy server of the tests), so
the ratio measures the client's concurrency, not a model. The target is at least 3x with concurrency 4.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services import projection
from services.client import InferenceClient
from services.config import Deployment
from services.embeddings import embed_many
from tests.services.test_embeddings_server import run_toy_server


def _timed(work: Callable[[], Any]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _serve(connection: Connection, delay: float) -> None:
    """Child process: run the toy server, send its URL, serve until told to stop."""
    with run_toy_server(dims=384, delay_s=delay) as toy:
        connection.send(toy.url)
        connection.recv()


@contextlib.contextmanager
def toy_server_process(delay: float) -> Iterator[str]:
    """The toy server in its own process, so its JSON encoding does not compete with the client for the GIL."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_serve, args=(child, delay), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)


def throughput(texts: int, delay: float, batch_size: int, concurrency: int, encoding: str) -> dict[str, Any]:
    """Texts per second one batch at a time versus `concurrency` batches at a time, against the same server.

    Both sides use the same `encoding_format`; base64 (the default) keeps the single-threaded Python test server's
    JSON encoding from becoming the bottleneck that a real endpoint would not be.
    """
    corpus = [f"benchmark sentence {i} about subject {i % 17}" for i in range(texts)]
    with toy_server_process(delay) as url:
        client = InferenceClient(Deployment(name="bench", endpoint=f"{url}/bench", max_retries=0))

        client.embed(["warm up the connection"])  # neither timing should pay for the first connection

        def one_at_a_time() -> None:
            for start in range(0, texts, batch_size):
                client.embed(corpus[start : start + batch_size], encoding_format=encoding)

        sequential = _timed(one_at_a_time)
        options = {"batch_size": batch_size, "encoding_format": encoding}
        serial_many = _timed(lambda: embed_many(client, corpus, concurrency=1, **options))
        parallel = _timed(lambda: embed_many(client, corpus, concurrency=concurrency, **options))
        client.close()
    return {
        "texts": texts,
        "batch_size": batch_size,
        "delay_s": delay,
        "encoding_format": encoding,
        "sequential_s": sequential,
        "embed_many_concurrency_1_s": serial_many,
        f"embed_many_concurrency_{concurrency}_s": parallel,
        "speedup": sequential / parallel,
    }


def _vectors(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    """Clustered synthetic vectors, shaped like sentence embeddings (20 topics)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(20, d))
    return (centres[rng.integers(0, 20, n)] + 0.8 * rng.normal(size=(n, d))).astype(np.float32)


def projections(sizes: dict[str, list[int]]) -> list[dict[str, Any]]:
    """Seconds per projection method and size; UMAP's first call (numba compilation) is reported on its own."""
    rows: list[dict[str, Any]] = []
    warm = _timed(lambda: projection.project(_vectors(200), "umap"))
    rows.append({"what": "umap first call (numba compile, 200 x 384)", "n": 200, "seconds": warm})
    for method, counts in sizes.items():
        for n in counts:
            x = _vectors(n)
            rows.append({"what": method, "n": n, "seconds": _timed(lambda x=x, m=method: projection.project(x, m))})
    x = _vectors(max(max(c) for c in sizes.values()))
    y = x + 0.5 * np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    n = x.shape[0]
    rows.append({"what": "kmeans k=20", "n": n, "seconds": _timed(lambda: projection.kmeans_clusters(x, 20))})
    rows.append({"what": "overlap@10", "n": n, "seconds": _timed(lambda: projection.neighbour_overlap(x, y, 10))})
    rows.append({"what": "spearman", "n": n, "seconds": _timed(lambda: projection.similarity_spearman(x, y))})
    return rows


def main() -> None:
    """Run both parts and print a table (and JSON when asked)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=2048)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds the server takes per request")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--encoding", choices=["base64", "float"], default="base64", help="encoding_format to ask for")
    parser.add_argument("--quick", action="store_true", help="small projection sizes only")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    speed = throughput(args.texts, args.delay, args.batch_size, args.concurrency, args.encoding)
    print(
        f"embed_many: {speed['texts']} texts, batches of {speed['batch_size']}, {speed['delay_s']} s per request,"
        f" encoding_format={speed['encoding_format']}"
    )
    for key, value in speed.items():
        if key.endswith("_s") and key != "delay_s":
            print(f"  {key:<34} {value:7.2f} s  ({speed['texts'] / value:8.0f} texts/s)")
    verdict = "meets" if speed["speedup"] >= 3 else "MISSES"
    print(f"  speedup vs one batch at a time    {speed['speedup']:7.2f}x  ({verdict} the 3x target)")

    sizes = (
        {"pca": [1000], "umap": [1000], "tsne": [1000]}
        if args.quick
        else {"pca": [1000, 5000, 10000], "umap": [1000, 5000], "tsne": [1000, 5000]}
    )
    rows = projections(sizes)
    print("\nprojections (384 dimensions, 2D):")
    for row in rows:
        print(f"  {row['what']:<44} n={row['n']:>6}  {row['seconds']:7.2f} s")
    if args.json:
        args.json.write_text(json.dumps({"throughput": speed, "projections": rows}, indent=2))


if __name__ == "__main__":
    main()
