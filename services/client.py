"""InferenceClient: the Azure AI Model Inference API over one pooled httpx.Client per deployment."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from services import image_generation
from services.calls import Call, CallPlanner
from services.config import Deployment
from services.errors import InferenceError, StreamInterruptedError
from services.http import shutdown_socket, timeout_for
from services.image_schemas import ImageGenerationResult
from services.netguard import AddressGuard
from services.responses import (
    CompletionAssembler,
    StreamAssembler,
    json_body,
    parse_chat,
    parse_completion,
    parse_embeddings,
    parse_info,
)
from services.retry import RETRY_EXCEPTIONS, RetryPolicy
from services.schemas import ChatResult, CompletionResult, EmbeddingsResult, ImageInput, ModelInfo, StreamDelta
from services.sse import iter_events
from services.transport import PlaygroundTransport, refusal_of, stopped_here

_httpx_log = logging.getLogger("httpx")


class ChatStream:
    """Iterator of StreamDelta; `text` and `result` hold what arrived so far; close() drops the connection at once."""

    _assembler_type: type[StreamAssembler] = StreamAssembler

    def __init__(self, response: httpx.Response, call: Call, planner: CallPlanner) -> None:
        self._response = response
        self._call = call
        self._planner = planner
        self._assembler = self._assembler_type(
            call.clock, deployment=planner.deployment.name, request_id=call.request_id, route=call.route
        )
        self._deltas = self._generate()
        self._finished = False
        self._closing = False
        self._recorded = False

    def _generate(self) -> Iterator[StreamDelta]:
        assembler = self._assembler
        failure: InferenceError | None = None
        try:
            for event in iter_events(self._response.iter_bytes()):
                delta = assembler.delta(event)
                if delta is not None:
                    yield delta
                if assembler.done or self._closing:
                    return
            if not assembler.complete:
                failure = StreamInterruptedError(
                    f"stream ended after {len(assembler.text)} characters without a finish reason",
                    host=self._planner.host,
                    reason="stream ended early",
                    deployment=self._planner.deployment.name,
                    request_id=self._call.request_id,
                )
                raise failure
        except (httpx.TransportError, httpx.StreamError) as exc:
            if self._closing or stopped_here():
                # The reader was cut off by close() or by its CancelScope: a stop, not a failure.
                assembler.stopped = not assembler.complete
                return
            failure = self._planner.transport_error(self._call, exc, partial=assembler.text)
            raise failure from None
        except InferenceError as err:
            # Error events and malformed chunks are quoted in the message; an endpoint may echo secrets in them.
            failure = self._planner.redact(err)
            raise failure from None
        finally:
            self._finished = True
            if assembler.complete:
                assembler.stopped = False  # the whole answer arrived, even if close() raced with its last chunk
            self._call.clock.stop()
            self._response.close()
            self._record(failure)

    def _record(self, failure: InferenceError | None) -> None:
        """The stream's span, once: its answer (partial when stopped or cut) and how it ended."""
        if self._recorded:
            return
        self._recorded = True
        result = self._assembler.result()
        status = "error" if failure is not None else "stopped" if result.stopped else "ok"
        self._planner.span(self._call, status, result=result, error=failure)

    def __iter__(self) -> ChatStream:
        return self

    def __next__(self) -> StreamDelta:
        return next(self._deltas)

    @property
    def text(self) -> str:
        """Everything received so far."""
        return self._assembler.text

    @property
    def result(self) -> ChatResult:
        """The answer assembled so far (stopped=True when closed before the end); valid after an error too."""
        return self._assembler.result()

    def close(self) -> None:
        """Stop reading and close the connection now."""
        running = not self._finished
        if running:
            # Marked before `_closing`: a reader that sees `_closing` ends at once, and its answer must say stopped.
            self._assembler.stopped = True
            self._call.clock.stop()
        # Set before the shutdown: the reader must see its read fail as a stop, not as a dropped connection.
        self._closing = True
        if running:
            # A read blocked in another thread only returns when the socket is shut down under it.
            shutdown_socket(self._response)
        self._response.close()
        with contextlib.suppress(ValueError):  # another thread is inside next(): it stops at its next chunk
            self._deltas.close()
        if running and not self._recorded and self._deltas.gi_frame is None:
            self._record(None)  # closed before its first read: the generator's `finally` never ran

    def __del__(self) -> None:
        # A stream dropped without iterating or closing would otherwise hold its connection.
        response = getattr(self, "_response", None)
        if response is not None and not response.is_closed:
            response.close()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class CompletionStream(ChatStream):
    """A streamed text completion: the same iterator of StreamDelta (content pieces, then finish_reason and usage),
    `text`, close() and context manager as ChatStream; `result` is a CompletionResult."""

    _assembler_type = CompletionAssembler

    @property
    def result(self) -> CompletionResult:  # type: ignore[override]
        """The completion assembled so far (stopped=True when closed before the end); valid after an error too."""
        return self._assembler.result()  # type: ignore[return-value]

    def __enter__(self) -> CompletionStream:
        return self


class InferenceClient:
    """Calls one deployment: info, chat, stream_chat, embed, embed_images, list_models, complete_text,
    stream_complete_text. Raises services.errors."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        transport: httpx.BaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
        credential: Any = None,
        guard: AddressGuard | None = None,
    ) -> None:
        """`guard` judges every address this client connects to (endpoints added in the page; services.netguard)."""
        self.deployment = deployment
        self._planner = CallPlanner(deployment, retry_policy, credential)
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=10)
        if transport is None:
            transport = PlaygroundTransport(endpoint=deployment.endpoint, guard=guard, limits=limits)
        # Redirects are never followed: a redirect could lead a guarded client to an address it may not reach.
        self._http = httpx.Client(transport=transport, timeout=timeout_for(deployment), follow_redirects=False)
        # Requests go straight to the transport (see _transmit): what httpx.Client would add, prepared once.
        self._transport = transport
        self._extensions = {"timeout": self._http.timeout.as_dict()}
        self._client_headers = dict(self._http.headers.items())

    def __repr__(self) -> str:
        return f"InferenceClient({self.deployment.name!r}, {self.deployment.endpoint!r})"

    def _send(self, call: Call) -> httpx.Response:
        """Send with retries before the first byte; return a 2xx response (streamed responses stay open). Every
        attempt that fails becomes a span; the one that succeeds is recorded when its answer has been read."""
        planner = self._planner
        attempt = 0
        while True:
            attempt += 1
            started = time.time_ns()
            try:
                token = planner.token_or_error(call)
            except InferenceError as err:
                raise self._failed(call, attempt, started, None, err) from None
            request = httpx.Request(
                call.method,
                call.url,
                json=call.body,
                headers={**self._client_headers, **planner.headers(call, token)},
                extensions=self._extensions,
            )
            try:
                response = self._transmit(request, call.stream)
            except RETRY_EXCEPTIONS as exc:
                refused = refusal_of(exc)
                if refused is not None:
                    raise self._failed(call, attempt, started, None, planner.blocked_error(call, refused)) from None
                error = planner.transport_error(call, exc)
                wait = None if stopped_here() else planner.retry_wait(attempt, None, None)
                if wait is None:
                    raise self._failed(call, attempt, started, None, error) from None
                self._retry(call, attempt, started, None, error, "connect", wait)
                continue
            except httpx.HTTPError as exc:
                raise self._failed(call, attempt, started, None, planner.transport_error(call, exc)) from None
            status = response.status_code
            if status < 300:
                call.attempt, call.attempt_ns, call.http_status = attempt, started, status
                return response
            if status < 400:
                response.close()
                raise self._failed(
                    call, attempt, started, status, planner.redirect_error(call, status, response.headers)
                )
            try:
                text = response.read().decode("utf-8", errors="replace")
            except httpx.HTTPError:
                text = ""
            finally:
                response.close()
            error = planner.response_error(call, status, response.headers, text)
            wait = planner.retry_wait(attempt, status, response.headers)
            if wait is None:
                raise self._failed(call, attempt, started, status, error)
            self._retry(call, attempt, started, status, error, str(status), wait)

    def _transmit(self, request: httpx.Request, stream: bool) -> httpx.Response:
        """What `httpx.Client.send` does for these calls, without its per-call machinery they do not use (auth flows,
        redirect handling, event hooks, a cookie-jar pass on every answer): about a third of a millisecond a call.
        Cookies are still kept and sent as the client would, and its INFO log line is still written."""
        if self._http.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        cookies = self._http.cookies
        if cookies:
            cookies.set_cookie_header(request)
        try:
            response = self._transport.handle_request(request)
        except httpx.RequestError as exc:
            exc.request = request  # as httpx.Client does: the error names the request it belongs to
            raise
        response.request = request
        if "set-cookie" in response.headers:
            cookies.extract_cookies(response)
        if _httpx_log.isEnabledFor(logging.INFO):
            _httpx_log.info(
                'HTTP Request: %s %s "%s %d %s"',
                request.method,
                request.url,
                response.http_version,
                response.status_code,
                response.reason_phrase,
            )
        if not stream:
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        return response

    def _failed(
        self, call: Call, attempt: int, started: int, status: int | None, error: InferenceError
    ) -> InferenceError:
        """Record the attempt that ended the call; return its error to raise."""
        self._planner.span(call, "error", attempt=attempt, start_ns=started, http_status=status, error=error)
        return error

    def _retry(
        self, call: Call, attempt: int, started: int, status: int | None, error: InferenceError, why: str, wait: float
    ) -> None:
        """Record a failed attempt that is sent again, and wait."""
        self._planner.span(
            call, "retried", attempt=attempt, start_ns=started, http_status=status, error=error, retry_wait=wait
        )
        call.clock.retried(why, wait)
        time.sleep(wait)

    def _json(self, call: Call) -> dict[str, Any]:
        response = self._send(call)
        try:
            text = response.text
        finally:
            response.close()
        where = {"deployment": self.deployment.name, "request_id": call.request_id, "route": call.route}
        try:
            return json_body(text, **where)
        except InferenceError:
            # The error quotes the start of the body: quote a masked copy, so no secret an endpoint echoed shows.
            try:
                return json_body(self._planner.mask(text), **where)
            except InferenceError as err:
                raise self._finished(call, error=err) from None

    def _finished(self, call: Call, result: Any = None, *, error: InferenceError | None = None) -> Any:
        """Record the answered attempt of `call` with its result, or with the error reading the answer gave; return
        what was given (`return self._finished(call, result)`, `raise self._finished(call, error=err)`)."""
        self._planner.span(call, "error" if error is not None else "ok", result=result, error=error)
        return error if error is not None else result

    def _parsed(self, call: Call, parse: Callable[[], Any]) -> Any:
        """`parse()` of a 2xx answer, recorded as the call's span either way."""
        try:
            result = parse()
        except InferenceError as err:
            raise self._finished(call, error=err) from None
        return self._finished(call, result)

    def info(self) -> ModelInfo:
        """The model behind the deployment (`/info`)."""
        call = self._planner.info()
        data = self._json(call)
        return self._parsed(call, lambda: parse_info(data, deployment=self.deployment.name, request_id=call.request_id))

    def list_models(self) -> list[str]:
        """Model ids from an OpenAI-compatible `/models`."""
        call = self._planner.models()
        data = self._json(call).get("data") or []
        return self._finished(call, [str(item["id"]) for item in data if isinstance(item, dict) and "id" in item])

    def chat(self, messages: Iterable[Any], **params: Any) -> ChatResult:
        """One chat completion; a content_filter finish is `result.content_filtered`, not an error."""
        call = self._planner.chat(messages, params, stream=False)
        data = self._json(call)
        return self._parsed(
            call, lambda: parse_chat(data, call.clock, deployment=self.deployment.name, request_id=call.request_id)
        )

    def stream_chat(self, messages: Iterable[Any], **params: Any) -> ChatStream:
        """Start a streamed chat completion; errors before the first byte raise here (after retries)."""
        call = self._planner.chat(messages, params, stream=True)
        return ChatStream(self._send(call), call, self._planner)

    def embed(self, texts: list[str], **params: Any) -> EmbeddingsResult:
        """Text embeddings as a float32 (n, d) array."""
        return self._embeddings(self._planner.embed(texts, params))

    def embed_images(self, images: Iterable[ImageInput | bytes | Path | str], **params: Any) -> EmbeddingsResult:
        """Image (+ optional text) embeddings; images are bytes, paths or data URLs."""
        return self._embeddings(self._planner.embed_images(images, params))

    def _embeddings(self, call: Call) -> EmbeddingsResult:
        data = self._json(call)
        return self._parsed(
            call,
            lambda: parse_embeddings(
                data, call.clock, encoding=call.encoding, deployment=self.deployment.name, request_id=call.request_id
            ),
        )

    def complete_text(self, prompt: str, **params: Any) -> CompletionResult:
        """One text completion (`/completions`: the prompt continued as written, no chat template). Parameters as
        http.COMPLETION_PARAMS (`echo`, `logprobs`, `suffix`, `stop`, `max_tokens`, ...) plus model_extras and
        extra_parameters; a content_filter finish is `result.content_filtered`, not an error."""
        call = self._planner.complete_text(prompt, params, stream=False)
        data = self._json(call)
        return self._parsed(
            call,
            lambda: parse_completion(data, call.clock, deployment=self.deployment.name, request_id=call.request_id),
        )

    def stream_complete_text(self, prompt: str, **params: Any) -> CompletionStream:
        """Start a streamed text completion; errors before the first byte raise here (after retries)."""
        call = self._planner.complete_text(prompt, params, stream=True)
        return CompletionStream(self._send(call), call, self._planner)

    def generate_images(
        self,
        prompt: str,
        *,
        size: str | None = None,
        n: int | None = None,
        quality: str | None = None,
        style: str | None = None,
        response_format: str | None = None,
        background: str | None = None,
        output_format: str | None = None,
        user: str | None = None,
        seed: int | None = None,
        **params: Any,
    ) -> ImageGenerationResult:
        """Images from a text prompt (`/images/generations`) in the deployment kind's dialect; unset parameters are
        not sent. Also the rest of image_generation.IMAGE_PARAMS (`output_compression`, `moderation`, `model`),
        model_extras (`negative_prompt`, ...), extra_parameters, and `max_image_bytes`: the limit for a `url`
        answer, which is fetched from the endpoint's own host only."""
        named = {"size": size, "n": n, "quality": quality, "style": style, "response_format": response_format}
        named |= {"background": background, "output_format": output_format, "user": user, "seed": seed}
        return image_generation.generate(self, prompt, {**named, **params})

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> InferenceClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
