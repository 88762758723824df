"""The stream pump reads a real stream in a worker thread: text as it arrives, Stop at once, errors handed over."""

from __future__ import annotations

import time

from app.stream_pump import StreamPump
from services.client import InferenceClient
from services.config import Deployment
from services.errors import EndpointUnavailableError
from tests.fixtures.fault_server import FaultServer, Reply, chat_chunks, closed_port


def _client(endpoint: str) -> InferenceClient:
    return InferenceClient(Deployment(name="pumped", endpoint=endpoint, max_retries=0))


def test_pump_collects_the_whole_answer(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["Hello ", "there"])))
    client = _client(scenario.endpoint)
    pump = StreamPump(lambda: client.stream_chat([{"role": "user", "content": "hi"}]))
    assert pump.wait(10)
    assert pump.error is None
    assert pump.text == "Hello there"
    assert pump.result().finish_reason == "stop"


def test_stop_during_a_slow_stream_ends_the_worker_at_the_next_chunk(fault_server: FaultServer) -> None:
    pieces = [f"w{i} " for i in range(40)]
    scenario = fault_server.scenario(Reply(sse=chat_chunks(pieces), chunk_delay=0.1))
    client = _client(scenario.endpoint)
    pump = StreamPump(lambda: client.stream_chat([{"role": "user", "content": "hi"}]))
    deadline = time.monotonic() + 10
    while "w2" not in pump.text and time.monotonic() < deadline:
        time.sleep(0.02)
    pump.stop()
    assert pump.wait(1.0), "the worker should close the stream at the next chunk"
    partial = pump.text
    assert partial.startswith("w0 w1 w2") and "w39" not in partial
    assert pump.result().stopped


def test_stop_while_waiting_for_the_first_byte_ends_at_once_with_an_empty_result(fault_server: FaultServer) -> None:
    # The endpoint would answer only after 30 s: Stop must not wait for it (the connection is shut down).
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["late"]), first_byte_delay=30.0))
    client = _client(scenario.endpoint)
    pump = StreamPump(lambda: client.stream_chat([{"role": "user", "content": "hi"}]))
    time.sleep(0.3)
    pump.stop()
    assert pump.wait(1.0), "Stop before the first byte should end the request at once"
    assert pump.error is None  # the cut connection is the stop, not an endpoint failure
    assert pump.text == "" and pump.result().content == ""


def test_errors_are_handed_to_the_page() -> None:
    client = _client(f"http://127.0.0.1:{closed_port()}")
    pump = StreamPump(lambda: client.stream_chat([{"role": "user", "content": "hi"}]))
    assert pump.wait(10)
    assert isinstance(pump.error, EndpointUnavailableError)
