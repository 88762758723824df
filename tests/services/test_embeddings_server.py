"""A tiny deterministic embeddings server on loopback, used by the embeddings tests, the e2e tests and the bench.

It speaks the API's `/embeddings` and `/info` (any path prefix, so one server can host several deployment names)
with a hashed bag-of-words "model": texts sharing words get similar vectors. It can wait a fixed time per request,
fail the first requests with 503, reject texts containing a marker with a 400, and counts what it was sent.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import numpy as np

REJECT_MARKER = "REJECTME"
_WORD = re.compile(r"[a-z0-9]+")


def toy_vector(text: str, dims: int) -> np.ndarray:
    """Unit vector: every word adds +-1 to a hashed coordinate (a stable, meaningful and cheap embedding)."""
    vector = np.zeros(dims, dtype=np.float32)
    for word in _WORD.findall(text.lower()) or [text]:
        digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vector[value % dims] += 1.0 if (value >> 32) & 1 else -1.0
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        vector[0] = 1.0
        return vector
    return vector / norm


@dataclass
class ToyServerState:
    """Settings a test may change while the server runs, and counters it reads."""

    dims: int = 64
    delay_s: float = 0.0
    fail_first: int = 0
    model_type: str = "embeddings"
    requests: int = 0
    texts_received: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    batch_sizes: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: ToyServerState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if self.path.split("?")[0].endswith("/info"):
                self._send(
                    200,
                    {"model_name": "toy-bag-of-words", "model_type": state.model_type, "model_provider_name": "tests"},
                )
            else:
                self._send(404, {"error": {"code": "NotFound", "message": "no such route"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            if not self.path.split("?")[0].endswith("/embeddings"):
                self._send(404, {"error": {"code": "NotFound", "message": "no such route"}})
                return
            with state.lock:
                state.requests += 1
                number = state.requests
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                if state.delay_s:
                    time.sleep(state.delay_s)
                self._answer(body, number)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _answer(self, body: dict[str, Any], number: int) -> None:
            if state.model_type != "embeddings":
                self._send(404, {"error": {"code": "NotFound", "message": "this model does not serve embeddings"}})
                return
            if number <= state.fail_first:
                self._send(503, {"error": {"code": "ServiceUnavailable", "message": "warming up"}})
                return
            texts = body.get("input") or []
            with state.lock:
                state.texts_received += len(texts)
                state.batch_sizes.append(len(texts))
            for i, text in enumerate(texts):
                if REJECT_MARKER in text:
                    self._send(400, {"error": {"code": "InvalidInput", "message": f"input[{i}] is not allowed"}})
                    return
            dims = int(body.get("dimensions") or state.dims)
            fmt = body.get("encoding_format") or "float"
            data = []
            for i, text in enumerate(texts):
                vector = toy_vector(text, state.dims)[:dims]
                encoded: Any = (
                    base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
                    if fmt == "base64"
                    else [float(x) for x in vector]
                )
                data.append({"object": "embedding", "index": i, "embedding": encoded})
            tokens = sum(len(t.split()) for t in texts)
            self._send(
                200,
                {
                    "id": f"toy-{number}",
                    "object": "list",
                    "model": "toy-bag-of-words",
                    "data": data,
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

    return Handler


@dataclass
class ToyServer:
    """A running toy server: `url` is its base, `state` its settings and counters."""

    url: str
    state: ToyServerState


@contextlib.contextmanager
def run_toy_server(**settings: Any) -> Iterator[ToyServer]:
    """Serve the toy model on a free loopback port until the block ends."""
    state = ToyServerState(**settings)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="toy-embeddings", daemon=True)
    thread.start()
    try:
        yield ToyServer(url=f"http://127.0.0.1:{server.server_address[1]}", state=state)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_toy_server_answers_embeddings_in_the_api_shape() -> None:
    with run_toy_server(dims=16) as toy:
        answer = httpx.post(f"{toy.url}/toy/embeddings", json={"input": ["red apple", "green apple"]})
    assert answer.status_code == 200
    rows = [item["embedding"] for item in answer.json()["data"]]
    assert [len(row) for row in rows] == [16, 16]
    assert np.allclose(rows[0], toy_vector("red apple", 16))
    # Shared words make vectors closer than unrelated texts.
    assert float(np.dot(rows[0], rows[1])) > float(np.dot(rows[0], toy_vector("stock market crash", 16)))


def test_toy_server_rejects_marked_texts_and_fails_first_requests() -> None:
    with run_toy_server(fail_first=1) as toy:
        first = httpx.post(f"{toy.url}/embeddings", json={"input": ["x"]})
        second = httpx.post(f"{toy.url}/embeddings", json={"input": [f"a {REJECT_MARKER}"]})
    assert first.status_code == 503
    assert second.status_code == 400
