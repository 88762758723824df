"""AsyncInferenceClient against the fault server: concurrency, streams, errors, retries (the sync twin's behaviour)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from services.async_client import AsyncInferenceClient
from services.config import Deployment
from services.errors import EndpointUnavailableError, StreamInterruptedError, UnsupportedParameterError
from services.retry import RetryPolicy
from tests.fixtures.fault_server import FaultServer, Reply, Scenario, chat_body, chat_chunks, closed_port

HI = [{"role": "user", "content": "hi"}]
FAST = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)


def client_for(scenario: Scenario | str, **fields: Any) -> AsyncInferenceClient:
    endpoint = scenario if isinstance(scenario, str) else scenario.endpoint
    return AsyncInferenceClient(Deployment(name="async", endpoint=endpoint, **fields), retry_policy=FAST)


def test_concurrent_chats_overlap(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(json=chat_body("same"), first_byte_delay=0.3))

    async def run() -> list[str]:
        async with client_for(scenario) as client:
            results = await asyncio.gather(*(client.chat(HI) for _ in range(4)))
        return [result.content for result in results]

    started = time.perf_counter()
    assert asyncio.run(run()) == ["same"] * 4
    assert time.perf_counter() - started < 1.0 and len(scenario.requests) == 4  # 4 x 0.3 s run side by side


def test_async_stream_iterates_without_await_and_assembles(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["a", "b", "c"])))

    async def run() -> tuple[list[str], str]:
        async with client_for(scenario) as client:
            stream = client.stream_chat(HI)
            pieces = [delta.content async for delta in stream if delta.content]
            return pieces, stream.result.content

    assert asyncio.run(run()) == (["a", "b", "c"], "abc")


def test_async_stream_awaited_raises_errors_before_iteration(fault_server: FaultServer) -> None:
    body = {"detail": [{"loc": ["body", "seed"], "input": 4, "msg": "unsupported", "type": "extra_forbidden"}]}
    scenario = fault_server.scenario(Reply(status=422, json=body))

    async def run() -> None:
        async with client_for(scenario) as client:
            await client.stream_chat(HI, seed=4)

    with pytest.raises(UnsupportedParameterError) as info:
        asyncio.run(run())
    assert info.value.param == "seed" and info.value.value == 4


def test_async_stream_keeps_partial_text_when_connection_drops(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks(["x", "y", "z"]), drop_after=2))
    seen: list[str] = []

    async def run() -> str:
        async with client_for(scenario) as client:
            stream = await client.stream_chat(HI)
            try:
                async for delta in stream:
                    seen.append(delta.content or "")
            except StreamInterruptedError:
                return stream.text
            return "not interrupted"

    assert asyncio.run(run()) == "x" and seen == ["x"]


def test_async_aclose_stops_the_stream_and_marks_it_stopped(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(sse=chat_chunks([f"{i} " for i in range(100)]), chunk_delay=0.05))

    async def run() -> tuple[bool, str, float]:
        async with client_for(scenario) as client:
            stream = client.stream_chat(HI)
            async for _ in stream:
                break
            started = time.perf_counter()
            await stream.aclose()
            return stream.result.stopped, stream.text, time.perf_counter() - started

    stopped, text, took = asyncio.run(run())
    assert stopped and text == "0 " and took < 0.2


def test_async_503_then_success_and_unreachable(fault_server: FaultServer) -> None:
    scenario = fault_server.scenario(Reply(status=503, json={}), Reply(json=chat_body("ok")))

    async def run() -> str:
        async with client_for(scenario) as client:
            return (await client.chat(HI)).content

    assert asyncio.run(run()) == "ok" and len(scenario.requests) == 2

    async def unreachable() -> None:
        async with client_for(f"http://127.0.0.1:{closed_port()}", max_retries=1) as client:
            await client.embed(["a"])

    with pytest.raises(EndpointUnavailableError, match="cannot connect"):
        asyncio.run(unreachable())


def test_async_client_accepts_an_async_mock_transport() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 2.0]}]})

    async def run() -> tuple[int, int]:
        deployment = Deployment(name="m", endpoint="https://x.models.ai.azure.com")
        async with AsyncInferenceClient(deployment, transport=httpx.MockTransport(handler)) as client:
            return (await client.embed(["a"])).vectors.shape

    assert asyncio.run(run()) == (1, 2)
