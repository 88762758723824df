"""AsyncInferenceClient: the async twin of InferenceClient, for pages that call several deployments at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from services.calls import Call, CallPlanner
from services.config import Deployment
from services.errors import StreamInterruptedError
from services.http import timeout_for
from services.responses import StreamAssembler, json_body, parse_chat, parse_embeddings, parse_info
from services.retry import RETRY_EXCEPTIONS, RetryPolicy
from services.schemas import ChatResult, EmbeddingsResult, ImageInput, ModelInfo, StreamDelta
from services.sse import aiter_events


class AsyncChatStream:
    """Async iterator of StreamDelta; `text` and `result` hold what arrived so far; aclose() drops the connection."""

    def __init__(self, send: Callable[[Call], Awaitable[httpx.Response]], call: Call, planner: CallPlanner) -> None:
        self._send = send
        self._response: httpx.Response | None = None
        self._call = call
        self._planner = planner
        self._assembler = StreamAssembler(
            call.clock, deployment=planner.deployment.name, request_id=call.request_id, route=call.route
        )
        self._deltas = self._generate()
        self._finished = False
        self._closing = False

    async def start(self) -> AsyncChatStream:
        """Send the request (with retries before the first byte); iteration does this itself when needed."""
        if self._response is None:
            self._response = await self._send(self._call)
        return self

    def __await__(self) -> Generator[Any, None, AsyncChatStream]:
        return self.start().__await__()

    async def _generate(self) -> AsyncIterator[StreamDelta]:
        assembler = self._assembler
        response = (await self.start())._response
        assert response is not None
        try:
            async for event in aiter_events(response.aiter_bytes()):
                delta = assembler.delta(event)
                if delta is not None:
                    yield delta
                if assembler.done or self._closing:
                    return
            if not assembler.complete:
                raise StreamInterruptedError(
                    f"stream ended after {len(assembler.text)} characters without a finish reason",
                    host=self._planner.host,
                    reason="stream ended early",
                    deployment=self._planner.deployment.name,
                    request_id=self._call.request_id,
                )
        except (httpx.TransportError, httpx.StreamError) as exc:
            if self._closing:
                return  # the reader was cut off by close(): a stop, not a failure
            raise self._planner.transport_error(self._call, exc, partial=assembler.text) from None
        finally:
            self._finished = True
            self._call.clock.stop()
            await response.aclose()

    def __aiter__(self) -> AsyncChatStream:
        return self

    async def __anext__(self) -> StreamDelta:
        return await self._deltas.__anext__()

    @property
    def text(self) -> str:
        """Everything received so far."""
        return self._assembler.text

    @property
    def result(self) -> ChatResult:
        """The answer assembled so far (stopped=True when closed before the end); valid after an error too."""
        return self._assembler.result()

    async def aclose(self) -> None:
        """Stop reading and close the connection now."""
        if not self._finished:
            self._assembler.stopped = True
            self._call.clock.stop()
        self._closing = True
        if self._response is not None:
            await self._response.aclose()
        with contextlib.suppress(RuntimeError):  # another task is inside __anext__: it stops at its next chunk
            await self._deltas.aclose()

    async def __aenter__(self) -> AsyncChatStream:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class AsyncInferenceClient:
    """The async twin of InferenceClient (same methods, awaited); one pooled httpx.AsyncClient per deployment."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        credential: Any = None,
    ) -> None:
        self.deployment = deployment
        self._planner = CallPlanner(deployment, retry_policy, credential)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout_for(deployment),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    def __repr__(self) -> str:
        return f"AsyncInferenceClient({self.deployment.name!r}, {self.deployment.endpoint!r})"

    async def _token(self, call: Call) -> str | None:
        if self._planner.entra is None:
            return None
        # azure-identity's sync credential blocks on I/O: keep it off the event loop.
        return await asyncio.to_thread(self._planner.token_or_error, call)

    async def _send(self, call: Call) -> httpx.Response:
        """Send with retries before the first byte; return a 2xx response (streamed responses stay open)."""
        planner = self._planner
        attempt = 0
        while True:
            attempt += 1
            token = await self._token(call)
            request = self._http.build_request(
                call.method, call.url, json=call.body, headers=planner.headers(call, token)
            )
            try:
                response = await self._http.send(request, stream=call.stream)
            except RETRY_EXCEPTIONS as exc:
                wait = planner.retry_wait(attempt, None, None)
                if wait is None:
                    raise planner.transport_error(call, exc) from None
                await asyncio.sleep(wait)
                continue
            except httpx.HTTPError as exc:
                raise planner.transport_error(call, exc) from None
            if response.status_code < 400:
                return response
            try:
                text = (await response.aread()).decode("utf-8", errors="replace")
            except httpx.HTTPError:
                text = ""
            finally:
                await response.aclose()
            wait = planner.retry_wait(attempt, response.status_code, response.headers)
            if wait is None:
                raise planner.response_error(call, response.status_code, response.headers, text)
            await asyncio.sleep(wait)

    async def _json(self, call: Call) -> dict[str, Any]:
        response = await self._send(call)
        try:
            text = (await response.aread()).decode(response.encoding or "utf-8", errors="replace")
        except httpx.HTTPError as exc:
            raise self._planner.transport_error(call, exc) from None
        finally:
            await response.aclose()
        return json_body(text, deployment=self.deployment.name, request_id=call.request_id, route=call.route)

    async def info(self) -> ModelInfo:
        """The model behind the deployment (`/info`)."""
        call = self._planner.info()
        return parse_info(await self._json(call), deployment=self.deployment.name, request_id=call.request_id)

    async def list_models(self) -> list[str]:
        """Model ids from an OpenAI-compatible `/models`."""
        call = self._planner.models()
        data = (await self._json(call)).get("data") or []
        return [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item]

    async def chat(self, messages: Iterable[Any], **params: Any) -> ChatResult:
        """One chat completion; a content_filter finish is `result.content_filtered`, not an error."""
        call = self._planner.chat(messages, params, stream=False)
        data = await self._json(call)
        return parse_chat(data, call.clock, deployment=self.deployment.name, request_id=call.request_id)

    def stream_chat(self, messages: Iterable[Any], **params: Any) -> AsyncChatStream:
        """A streamed chat completion: `async for` it directly, or `await` it first to send and raise early errors."""
        call = self._planner.chat(messages, params, stream=True)
        return AsyncChatStream(self._send, call, self._planner)

    async def embed(self, texts: list[str], **params: Any) -> EmbeddingsResult:
        """Text embeddings as a float32 (n, d) array."""
        call = self._planner.embed(texts, params)
        data = await self._json(call)
        return parse_embeddings(
            data, call.clock, encoding=call.encoding, deployment=self.deployment.name, request_id=call.request_id
        )

    async def embed_images(self, images: Iterable[ImageInput | bytes | Path | str], **params: Any) -> EmbeddingsResult:
        """Image (+ optional text) embeddings; images are bytes, paths or data URLs."""
        call = self._planner.embed_images(images, params)
        data = await self._json(call)
        return parse_embeddings(
            data, call.clock, encoding=call.encoding, deployment=self.deployment.name, request_id=call.request_id
        )

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncInferenceClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
