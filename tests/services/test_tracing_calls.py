"""Every call leaves the right spans: real calls to the embedded endpoint and the fault server, read back from the
SQLite trace store (and its file's bytes, for what must never be there)."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from services import tracing
from services.client import InferenceClient
from services.compare_run import CompareRun, PaneJob
from services.config import Deployment
from services.embeddings import embed_many
from services.errors import ContentFilterError, InvalidRequestError, StreamInterruptedError, UnsupportedParameterError
from services.retry import RetryPolicy
from services.store.location import data_dir
from services.store.traces import TraceStore
from tests.fixtures.fault_server import CONTENT_FILTER_BODY, ECHO_HEADERS, FaultServer, Reply, chat_body, chat_chunks

KEY = "sk-trace-test-key-0123456789"
HEADER_SECRET = "hdr-secret-value-9876543210"
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
HI = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello to the tracer"}]
CHAT = "smollm2-135m-instruct"
TEXT = "all-minilm-l6-v2"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def deployment(endpoint: str, name: str = "traced", **fields: Any) -> Deployment:
    values: dict[str, Any] = {"name": name, "endpoint": endpoint, "key": KEY, "key_source": "environment"}
    values.update(fields)
    return Deployment(**values)


def client(endpoint: str, name: str = "traced", **fields: Any) -> InferenceClient:
    return InferenceClient(deployment(endpoint, name, **fields), retry_policy=FAST)


def store() -> TraceStore:
    assert tracing.flush(10), "the trace writer did not catch up"
    return TraceStore(data_dir() / tracing.TRACE_FILE)


def only_trace(found: TraceStore) -> list[dict[str, Any]]:
    traces = found.traces()
    assert len(traces) == 1, traces
    return found.spans(traces[0]["trace_id"])


def db_bytes() -> bytes:
    """The store's file and its WAL, as a disk scan would see them."""
    tracing.flush(10)
    return b"".join(path.read_bytes() for path in Path(data_dir()).glob("traces.sqlite*"))


def test_streamed_chat_turn_on_the_embedded_endpoint_is_one_span_with_everything(
    local_deployments: dict[str, Deployment],
) -> None:
    with InferenceClient(local_deployments[CHAT]) as chat, tracing.action("chat turn"):
        with chat.stream_chat(HI, max_tokens=8, temperature=0.2, seed=3) as stream:
            for _ in stream:
                pass
        result = stream.result
    [span] = only_trace(store())
    request, answer = json.loads(span["request"]), json.loads(span["answer"])
    assert (span["operation"], span["status"], span["action"], span["http_status"]) == ("chat", "ok", "chat turn", 200)
    assert span["deployment"] == CHAT and span["host"].startswith("127.0.0.1:")
    assert request["params"] == {"max_tokens": 8, "temperature": 0.2, "seed": 3}
    assert request["messages"] == HI
    assert answer["content"] == result.content and answer["finish_reason"] == result.finish_reason
    assert (
        span["input_tokens"] == result.usage.prompt_tokens and span["output_tokens"] == result.usage.completion_tokens
    )
    assert span["ttft_s"] is not None and 0 < span["ttft_s"] <= span["total_s"]
    assert span["trace_id"] == result.metrics.trace_id
    assert span["response_model"] == result.model


def test_stopped_stream_keeps_the_partial_answer(fault_server: FaultServer) -> None:
    pieces = ["one ", "two ", "three ", "four ", "five "]
    scenario = fault_server.scenario(Reply(sse=chat_chunks(pieces), chunk_delay=0.2))
    with client(scenario.endpoint) as chat:
        stream = chat.stream_chat(HI)
        first = next(iter(stream))
        stream.close()
    [span] = only_trace(store())
    answer = json.loads(span["answer"])
    assert span["status"] == "stopped" and answer["stopped"] is True
    assert answer["content"] == (first.content or "") and span["error"] is None


def test_cut_stream_is_an_error_span_with_the_partial_answer(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["partial ", "answer ", "never ends"]), drop_after=3))
    with client(scenario.endpoint) as chat, pytest.raises(StreamInterruptedError):
        for _ in chat.stream_chat(HI):
            pass
    [span] = only_trace(store())
    assert span["status"] == "error" and span["error_type"] == "StreamInterruptedError"
    assert json.loads(span["answer"])["content"] == "partial answer "
    assert span["error"].startswith("stream cut:")


def test_422_and_its_repair_are_two_traces_naming_the_parameter(fault_server: FaultServer) -> None:
    body = {"status": 422, "code": "parameter_not_supported", "detail": {"loc": ["body", "seed"], "input": 7}}
    scenario = fault_server.scenario(Reply(status=422, json=body), Reply(json=chat_body("fixed")))
    with client(scenario.endpoint) as chat:
        with pytest.raises(UnsupportedParameterError):
            chat.chat(HI, seed=7, temperature=0.5)
        chat.chat(HI, temperature=0.5)  # the one-click repair sends without the refused parameter
    found = store()
    refused, repaired = sorted(found.traces(), key=lambda trace: trace["start_ns"])
    [bad] = found.spans(refused["trace_id"])
    [good] = found.spans(repaired["trace_id"])
    assert (bad["status"], bad["http_status"], bad["error_type"]) == ("error", 422, "UnsupportedParameterError")
    assert "seed" in bad["error"] and json.loads(bad["error_detail"])["param"] == "seed"
    assert json.loads(bad["request"])["params"] == {"seed": 7, "temperature": 0.5}
    assert good["status"] == "ok" and json.loads(good["request"])["params"] == {"temperature": 0.5}
    assert json.loads(good["answer"])["content"] == "fixed" and good["response_model"] == "fault-model"
    assert refused["status"] == "error" and repaired["status"] == "ok"


def test_content_filter_error_names_its_categories(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=400, json=CONTENT_FILTER_BODY))
    with client(scenario.endpoint) as chat, pytest.raises(ContentFilterError):
        chat.chat(HI)
    [span] = only_trace(store())
    detail = json.loads(span["error_detail"])
    assert span["error"] == "content filter: hate" and detail["type"] == "ContentFilterError"
    assert detail["categories"]["hate"]["filtered"] is True


def test_retries_are_their_own_attempts_and_the_answer_says_so(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(
        Reply(status=429, json={"error": {"code": "429", "message": "slow down"}}, headers={"retry-after": "0.2"}),
        Reply(status=503, text="busy"),
        Reply(json=chat_body("after retries")),
    )
    with client(scenario.endpoint, max_retries=3) as chat:
        result = chat.chat(HI)
    spans = only_trace(store())
    assert [(s["attempt"], s["status"], s["http_status"]) for s in spans] == [
        (1, "retried", 429),
        (2, "retried", 503),
        (3, "ok", 200),
    ]
    assert spans[0]["retry_wait_s"] == pytest.approx(0.2) and "429" in spans[0]["error"]
    assert result.metrics.retries == 2 and result.metrics.retry_reasons == ["429", "503"]
    assert result.metrics.retry_wait_s >= 0.2 and result.metrics.trace_id == spans[0]["trace_id"]
    assert store().traces()[0]["retries"] == 2 and store().traces()[0]["status"] == "ok"


def test_compare_run_of_three_panes_is_one_trace_with_each_panes_answer(fault_server: FaultServer) -> None:
    jobs = []
    for number in range(3):
        scenario = fault_server.scenario(Reply(sse=chat_chunks([f"pane {number} ", "says hi"]), chunk_delay=0.02))
        name = f"pane-{number}"
        jobs.append(PaneJob(name, deployment(scenario.endpoint, name), client(scenario.endpoint, name), HI, {}))
    with tracing.action("compare run", page="compare"):
        run = CompareRun(jobs).start()
    assert run.wait(20)
    spans = only_trace(store())
    assert sorted(span["deployment"] for span in spans) == ["pane-0", "pane-1", "pane-2"]
    for span in spans:
        number = span["deployment"].removeprefix("pane-")
        assert json.loads(span["answer"])["content"] == f"pane {number} says hi"
        assert (span["page"], span["action"], span["status"]) == ("compare", "compare run", "ok")


def test_embeddings_job_records_batches_without_vectors(local_deployments: dict[str, Deployment]) -> None:
    texts = [f"sentence number {i} about tracing" for i in range(10)]
    with InferenceClient(local_deployments[TEXT]) as embedder, tracing.action("embedding job"):
        result = embed_many(embedder, texts, batch_size=4, concurrency=2)
    spans = only_trace(store())
    assert len(spans) == 3 and {span["operation"] for span in spans} == {"embeddings"}
    answers = [json.loads(span["answer"]) for span in spans]
    assert sorted(answer["count"] for answer in answers) == [2, 4, 4]
    assert {answer["dimensions"] for answer in answers} == {result.vectors.shape[1]}
    assert all("embedding" not in span["answer"] for span in spans)
    assert sorted(len(json.loads(span["request"])["input"]) for span in spans) == [2, 4, 4]


def test_image_inputs_are_stored_as_size_and_hash(fault_server: FaultServer) -> None:
    vectors = {"data": [{"index": 0, "embedding": [0.1, 0.2, 0.3]}], "model": "img", "usage": {"prompt_tokens": 1}}
    scenario = fault_server.scenario(Reply(json=vectors))
    with client(scenario.endpoint) as embedder:
        embedder.embed_images([PNG])
    [span] = only_trace(store())
    [item] = json.loads(span["request"])["input"]
    assert item["image"].startswith(f"<image/png, {len(PNG)} bytes, sha256:")
    assert base64.b64encode(PNG)[:40] not in db_bytes()


def test_no_key_or_header_value_anywhere_in_the_database_file(fault_server: FaultServer) -> None:
    echoing = {"error": {"code": "bad", "message": f"you sent {ECHO_HEADERS}"}}
    scenario = fault_server.scenario(Reply(status=400, json=echoing), Reply(json=chat_body(f"echo {ECHO_HEADERS}")))
    with client(scenario.endpoint, extra_headers={"x-team-token": HEADER_SECRET}) as chat:
        with pytest.raises(InvalidRequestError):
            chat.chat(HI)
        chat.chat(HI)
    assert "x-team-token" in scenario.requests[0].headers  # the secrets really were sent, and echoed back
    raw = db_bytes()
    assert raw and KEY.encode() not in raw and HEADER_SECRET.encode() not in raw
    assert b"you sent" in raw  # the echoed error was stored, masked


def test_content_recording_off_keeps_timings_and_usage_but_no_text(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(tracing.TRACE_CONTENT_ENV, "false")
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["a secretive ", "answer text"])))
    with client(scenario.endpoint) as chat:
        for _ in chat.stream_chat(HI, temperature=0.1):
            pass
    [span] = only_trace(store())
    assert json.loads(span["request"]) == {"params": {"temperature": 0.1}, "messages_count": 2}
    assert "content" not in json.loads(span["answer"]) and span["output_tokens"] == 2 and span["total_s"] > 0
    raw = db_bytes()
    assert b"secretive" not in raw and b"tracer" not in raw and b"Be brief" not in raw


def test_recording_off_writes_nothing(fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tracing.TRACE_ENV, "off")
    scenario = fault_server.scenario(Reply(json=chat_body()))
    with client(scenario.endpoint) as chat:
        assert chat.chat(HI).metrics.trace_id  # the call still has a trace id for the page; nothing is stored
    tracing.flush(5)
    assert not (data_dir() / tracing.TRACE_FILE).exists()


def test_four_streaming_panes_and_an_embeddings_job_lose_or_mix_nothing(
    fault_server: FaultServer, local_deployments: dict[str, Deployment]
) -> None:
    jobs = []
    for number in range(4):
        pieces = [f"p{number}-{i} " for i in range(30)]
        scenario = fault_server.scenario(Reply(sse=chat_chunks(pieces), chunk_delay=0.005))
        name = f"pane-{number}"
        jobs.append(PaneJob(name, deployment(scenario.endpoint, name), client(scenario.endpoint, name), HI, {}))
    texts = [f"text {i}" for i in range(24)]
    with InferenceClient(local_deployments[TEXT]) as embedder:
        with tracing.action("compare run"):
            run = CompareRun(jobs).start()
        with tracing.action("embedding job"):
            worker = threading.Thread(
                target=tracing.carry(lambda: embed_many(embedder, texts, batch_size=3, concurrency=3))
            )
            worker.start()
        assert run.wait(30)
        worker.join(60)
    found = store()
    traces = {trace["action"]: trace for trace in found.traces()}
    panes = found.spans(traces["compare run"]["trace_id"])
    batches = found.spans(traces["embedding job"]["trace_id"])
    assert len(panes) == 4 and len(batches) == 8
    for span in panes:
        number = span["deployment"].removeprefix("pane-")
        assert json.loads(span["answer"])["content"] == "".join(f"p{number}-{i} " for i in range(30))
    assert {span["deployment"] for span in batches} == {TEXT}


def test_an_image_in_a_chat_message_is_stored_as_size_and_hash_unless_asked(
    fault_server: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    message = {
        "role": "user",
        "content": [{"type": "text", "text": "what is this"}, {"type": "image_url", "image_url": {"url": url}}],
    }
    scenario = fault_server.scenario(Reply(json=chat_body("a picture")))
    with client(scenario.endpoint) as chat:
        chat.chat([message])
        monkeypatch.setenv(tracing.TRACE_IMAGES_ENV, "full")
        chat.chat([message])
    found = store()
    hashed, full = (found.spans(t["trace_id"])[0] for t in found.traces(descending=False))
    stored = json.loads(hashed["request"])["messages"][0]["content"][1]["image_url"]["url"]
    assert stored.startswith(f"<image/png, {len(PNG)} bytes, sha256:") and "what is this" in hashed["request"]
    assert json.loads(full["request"])["messages"][0]["content"][1]["image_url"]["url"] == url
