"""The Traces page's queries on a store of 100,000 spans: milliseconds per query, target <= 100 ms each.

The store is filled in a temporary directory with rows made the way the recorder makes them (`span_row` of a
`SpanRecord` holding real results and errors): about 30,000 traces of 1-8 spans over the last four weeks, several
deployments, chat and embeddings, some errors, retries and stopped streams, prompts and answers of mixed length. Each
query is timed as the page runs it (a fresh connection per read, as TraceStore does); the median of several runs is
printed, and for a query over the target its SQLite query plan.
Run: `.venv/bin/python bench/trace_store.py [--spans 100000 --repeat 5]`.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.errors import (
    ContentFilterError,
    EndpointUnavailableError,
    RateLimitError,
    StreamInterruptedError,
    UnsupportedParameterError,
)
from services.schemas import ChatResult, EmbeddingsResult, Metrics, Usage
from services.store.traces import SORTS, TraceFilter, TraceStore
from services.trace_rows import span_row
from services.tracing import SpanRecord, new_span_id, new_trace_id

TARGET_MS = 100.0
PAGE = 50
DEPLOYMENTS = [  # name, api, host, price in, price out (per 1k tokens)
    ("gpt-4o", "azure-openai", "contoso.openai.azure.com", 0.0025, 0.01),
    ("gpt-4o-mini", "azure-openai", "contoso.openai.azure.com", 0.00015, 0.0006),
    ("phi-4", "azure-inference", "contoso.services.ai.azure.com", None, None),
    ("mistral-large", "azure-inference", "contoso.services.ai.azure.com", 0.002, 0.006),
    ("llama-3-70b", "azure-inference", "westus.models.ai.azure.com", 0.00071, 0.00071),
    ("local-qwen", "openai", "127.0.0.1:8600", None, None),
]
EMBEDDERS = [("text-embedding-3-small", "azure-openai", "contoso.openai.azure.com", 0.00002, None)]
ACTIONS = [("chat turn", "chat", 0.3), ("compare run", "compare", 0.35), ("embedding job", "embeddings", 0.35)]
_VOCABULARY = (
    "the model answer token latency deployment prompt request stream chunk retry error budget region quota "
    "customer invoice summary translate python function class async await database index query table column "
    "contract clause liability warranty shipping order refund policy weather forecast recipe ingredient oven "
    "climate energy battery solar panel grid storage market price inflation rate bond equity portfolio risk "
    "patient symptom diagnosis dosage trial protein enzyme molecule reaction catalyst kernel tensor gradient "
    "layer attention embedding vector cosine cluster centroid dimension sparse dense benchmark throughput"
)
WORDS = _VOCABULARY.split()
SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a careful legal analyst. Quote the clause you rely on and say when a question is outside the contract.",
    "You answer as a senior Python reviewer: point at the line, say what breaks and propose the smallest fix.",
]


def _text(rng: random.Random, low: int, high: int) -> str:
    """Prose-like text of `low`..`high` words, skewed short (most prompts are short, some are pasted documents)."""
    count = int(low + (high - low) * rng.random() ** 3)
    words = rng.choices(WORDS, k=max(count, 1))
    sentences, start = [], 0
    while start < len(words):
        size = rng.randint(6, 18)
        sentence = " ".join(words[start : start + size])
        sentences.append(sentence[:1].upper() + sentence[1:] + ".")
        start += size
    return " ".join(sentences)


def _metrics(rng: random.Random, total: float, usage: Usage | None, trace_id: str, retries: int) -> Metrics:
    return Metrics(
        ttft_s=total * rng.uniform(0.05, 0.3),
        total_s=total,
        tokens_per_s=rng.uniform(20, 120),
        request_id=new_trace_id(),
        usage=usage,
        finish_reason="stop",
        retries=retries,
        retry_wait_s=retries * 1.0,
        retry_reasons=["429"] * retries,
        trace_id=trace_id,
    )


def _error(rng: random.Random, deployment: str) -> tuple[Exception, int | None, str]:
    """A failed attempt: (error, http status, span status)."""
    kind = rng.random()
    if kind < 0.35:
        return RateLimitError("Rate limit is exceeded.", retry_after=1.0, deployment=deployment, status=429), 429, ""
    if kind < 0.55:
        error = UnsupportedParameterError(
            "Unsupported parameter: 'temperature'", param="temperature", value=0.2, deployment=deployment, status=422
        )
        return error, 422, "error"
    if kind < 0.75:
        categories = {"hate": {"filtered": True, "severity": "medium"}, "violence": {"filtered": False}}
        error = ContentFilterError(
            "The prompt was filtered by content management policy", categories=categories, deployment=deployment
        )
        return error, 400, "error"
    if kind < 0.9:
        error = StreamInterruptedError(
            "stream interrupted after 812 characters", host="h", reason="RemoteProtocolError", deployment=deployment
        )
        return error, 200, "error"
    error = EndpointUnavailableError("endpoint unavailable: read timeout", host="h", reason="read timeout after 60 s")
    return error, None, "error"


def _trace(rng: random.Random, start_ns: int) -> list[SpanRecord]:
    """One user action's spans: a chat turn (with retries), a compare run (one span per pane) or an embedding job."""
    name, page, _ = rng.choices(ACTIONS, weights=[weight for *_, weight in ACTIONS])[0]
    trace_id = new_trace_id()
    spans: list[SpanRecord] = []
    clock = start_ns
    if name == "embedding job":
        deployment, api, host, price_in, price_out = EMBEDDERS[0]
        for _ in range(rng.randint(1, 8)):
            texts = [_text(rng, 3, 60) for _ in range(rng.randint(1, 16))]
            usage = Usage(prompt_tokens=sum(len(text) // 4 for text in texts))
            total = rng.uniform(0.05, 0.8)
            result = EmbeddingsResult(
                vectors=np.zeros((len(texts), 4), dtype=np.float32),  # only the shape is stored
                model=deployment,
                usage=usage,
                metrics=_metrics(rng, total, usage, trace_id, 0),
            )
            body = {"input": texts, "model": deployment, "dimensions": 1536}
            spans.append(_span(trace_id, name, page, "embeddings", deployment, api, host, clock, total, body, result))
            spans[-1].price_in, spans[-1].price_out = price_in, price_out
            clock += int(total * 1e9)
        return spans
    history = [{"role": "system", "content": rng.choice(SYSTEM_PROMPTS)}]
    for _ in range(rng.randint(0, 3)):  # earlier turns of the conversation
        history += [
            {"role": "user", "content": _text(rng, 4, 120)},
            {"role": "assistant", "content": _text(rng, 10, 300)},
        ]
    history.append({"role": "user", "content": _text(rng, 4, 400)})
    panes = rng.sample(DEPLOYMENTS, rng.randint(2, 4)) if name == "compare run" else [rng.choice(DEPLOYMENTS)]
    for deployment, api, host, price_in, price_out in panes:
        params = {"temperature": round(rng.uniform(0, 1.2), 2), "max_tokens": rng.choice([256, 512, 1024, 4096])}
        body = {"messages": history, "model": deployment, **params, "stream": True}
        attempt = 1
        while rng.random() < 0.06 and attempt < 4:  # a failed attempt before (or instead of) the answer
            error, http_status, status = _error(rng, deployment)
            total = rng.uniform(0.05, 2.0)
            span = _span(trace_id, name, page, "chat", deployment, api, host, clock, total, body, None)
            span.attempt, span.error, span.http_status = attempt, error, http_status
            span.status = status or "retried"
            span.retry_wait_s = 1.0 if span.status == "retried" else None
            spans.append(span)
            clock += int(total * 1e9)
            if span.status == "error":
                break
            attempt += 1
        else:
            answer = _text(rng, 5, 700)
            usage = Usage(
                prompt_tokens=sum(len(m["content"]) for m in history) // 4, completion_tokens=len(answer) // 4
            )
            usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
            total = rng.uniform(0.3, 25.0)
            stopped = rng.random() < 0.03
            result = ChatResult(
                content=answer,
                finish_reason=None if stopped else rng.choice(["stop"] * 9 + ["length"]),
                usage=None if stopped else usage,
                metrics=_metrics(rng, total, usage, trace_id, attempt - 1),
                stopped=stopped,
                model=f"{deployment}-2024-11-20",
            )
            span = _span(trace_id, name, page, "chat", deployment, api, host, clock, total, body, result)
            span.attempt, span.status = attempt, "stopped" if stopped else "ok"
            span.price_in, span.price_out = price_in, price_out
            spans.append(span)
            if name != "compare run":
                clock += int(total * 1e9)
    return spans


def _span(
    trace_id: str,
    action: str,
    page: str,
    operation: str,
    deployment: str,
    api: str,
    host: str,
    start_ns: int,
    total: float,
    body: dict[str, Any],
    result: Any,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        action=action,
        page=page,
        operation=operation,
        deployment=deployment,
        host=host,
        api=api,
        route="/chat/completions" if operation == "chat" else "/embeddings",
        request_model=deployment,
        request_id=new_span_id(),
        start_ns=start_ns,
        end_ns=start_ns + int(total * 1e9),
        attempt=1,
        status="ok",
        http_status=200,
        body=body,
        result=result,
        secrets=("bench-secret-key",),
    )


def fill(store: TraceStore, spans: int, seed: int = 12) -> tuple[int, int]:
    """Write about `spans` spans over the last 28 days, in batches as the recorder writes them; (spans, traces)."""
    rng = random.Random(seed)
    random.seed(seed)  # span and trace ids
    now = time.time_ns()
    window = 28 * 86_400 * 10**9
    written = traces = 0
    batch: list[dict[str, Any]] = []
    while written < spans:
        records = _trace(rng, now - window + int(rng.random() * window))
        traces += 1
        for record in records[: spans - written]:
            batch.append(span_row(record))
            written += 1
        if len(batch) >= 500:
            store.write(batch)
            batch = []
    store.write(batch)
    return written, traces


def _timed(query: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median milliseconds of `query` over `repeat` runs (after one warm-up run), and its last answer."""
    answer = query()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = query()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times), answer


def _plan(path: Path, sql: str, args: list[Any]) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "traces.sqlite"
        store = TraceStore(path, retention_days=30, max_spans=args.spans + 1)
        started = time.perf_counter()
        spans, traces = fill(store, args.spans)
        fill_s = time.perf_counter() - started
        size_mb = sum(file.stat().st_size for file in Path(folder).iterdir()) / 1e6
        print(f"filled {spans} spans in {traces} traces ({size_mb:.0f} MB) in {fill_s:.1f} s")
        day_ns = 86_400 * 10**9
        now = time.time_ns()
        cases: list[tuple[str, TraceFilter | None, Callable[[], Any]]] = []

        def page(label: str, where: TraceFilter | None = None, **kw: Any) -> None:
            cases.append((label, where, lambda: store.traces(where, limit=PAGE, **kw)))

        page("first page, newest first")
        page("page 100, newest first", offset=99 * PAGE)
        page("oldest first", descending=False)
        for sort in SORTS:
            if sort != "time":
                page(f"sort by {sort}", sort=sort)
        page("page 100, sort by latency", sort="latency", offset=99 * PAGE)
        filters = {
            "deployment gpt-4o": TraceFilter(deployments=["gpt-4o"]),
            "deployments phi-4 or mistral-large": TraceFilter(deployments=["phi-4", "mistral-large"]),
            "operation embeddings": TraceFilter(operations=["embeddings"]),
            "errors only": TraceFilter(errors_only=True),
            "last 24 hours": TraceFilter(since_ns=now - day_ns),
            "days 7-14 ago": TraceFilter(since_ns=now - 14 * day_ns, until_ns=now - 7 * day_ns),
            'text "warranty"': TraceFilter(text="warranty"),
            'text "no such words" (no match)': TraceFilter(text="no such words"),
            "gpt-4o, errors, last week": TraceFilter(
                deployments=["gpt-4o"], errors_only=True, since_ns=now - 7 * day_ns
            ),
        }
        for label, where in filters.items():
            page(f"filter {label}", where)
        cases.append(("count, no filter", None, lambda: store.count()))
        for label, where in filters.items():
            cases.append((f"count, {label}", where, lambda where=where: store.count(where)))
        cases.append(("totals, no filter", None, lambda: store.totals()))
        for label in ("deployment gpt-4o", "last 24 hours", 'text "warranty"'):
            where = filters[label]
            cases.append((f"totals, {label}", where, lambda where=where: store.totals(where)))
        cases.append(("deployments (filter choices)", None, store.deployments))
        newest = store.traces(limit=1)[0]["trace_id"]
        cases.append(("spans of one trace", None, lambda: store.spans(newest)))
        cases.append(
            ("export spans of 'errors only'", filters["errors only"], lambda: store.spans_of(filters["errors only"]))
        )

        slow = []
        width = max(len(label) for label, _, _ in cases)
        for label, _, query in cases:
            ms, answer = _timed(query, args.repeat)
            size = len(answer) if isinstance(answer, list) else answer
            flag = "" if ms <= TARGET_MS else "  SLOW"
            print(f"{label:<{width}}  {ms:8.1f} ms  ({size} rows){flag}")
            if ms > TARGET_MS:
                slow.append(label)
        print(f"target (each query <= {TARGET_MS:g} ms at {spans} spans): {'met' if not slow else 'NOT met'}")
        for label in slow:
            where = next(w for name, w, _ in cases if name == label)
            clause, where_args = (where or TraceFilter()).where()
            print(f"query plan of {label!r} (filter: {clause or 'none'}):")
            for line in _plan_for(path, label, clause, where_args):
                print(f"    {line}")


def _plan_for(path: Path, label: str, clause: str, args: list[Any]) -> list[str]:
    """The plan of the statement TraceStore runs for `label` (same SQL shape, read from trace_store)."""
    if label.startswith("count"):
        return _plan(path, f"SELECT count(*) FROM traces t {clause}", args)
    if label.startswith("totals"):
        sql = (
            "SELECT d.deployment, sum(d.calls) FROM trace_deployments d JOIN traces t ON t.trace_id = d.trace_id"
            f" {clause} GROUP BY d.deployment"
        )
        return _plan(path, sql, args)
    if label.startswith("deployments"):
        return _plan(path, "SELECT DISTINCT deployment FROM spans ORDER BY deployment", [])
    if label.startswith("export"):
        sql = (
            f"SELECT s.* FROM (SELECT t.trace_id, t.start_ns AS picked_at FROM traces t {clause}"
            " ORDER BY t.start_ns DESC LIMIT 10000) AS picked JOIN spans s ON s.trace_id = picked.trace_id"
            " ORDER BY picked.picked_at DESC, s.start_ns LIMIT 10000"
        )
        return _plan(path, sql, args)
    order = next((SORTS[name] for name in SORTS if f"sort by {name}" in label), "start_ns")
    return _plan(path, f"SELECT * FROM traces t {clause} ORDER BY {order} DESC, start_ns DESC LIMIT 50 OFFSET 0", args)


if __name__ == "__main__":
    main()
