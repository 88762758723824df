"""`/chat/completions`: one JSON answer or a stream of `data:` lines, as Azure sends them."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from local_endpoint.blocklist import Blocklist, content_filter_result
from local_endpoint.chat_request import build_grammar, parse_chat
from local_endpoint.chat_run import ChatRun
from local_endpoint.deployments import Deployment
from local_endpoint.errors import ContractError
from local_endpoint.http_common import until_disconnect
from local_endpoint.limits import Limits

if TYPE_CHECKING:
    from local_endpoint.chat_model import ChatModel
    from local_endpoint.grammar_cache import CompiledGrammar


class ClosingStreamingResponse(StreamingResponse):
    """A stream that always runs `on_close` when the response ends, even if its body never started."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


def prompt_filtered(match: Any) -> ContractError:
    """The 400 `content_filter` error for a prompt that hit the blocklist."""
    return ContractError(
        400,
        "content_filter",
        "The response was filtered due to the prompt triggering the content management policy "
        f"(custom blocklist '{match.list_id}'). Please modify your prompt and retry.",
        param="prompt",
        status=400,
        innererror={"code": "ResponsibleAIPolicyViolation", "content_filter_result": content_filter_result(match)},
    )


def usage_of(run: ChatRun) -> dict[str, int]:
    """The `usage` object of a finished run."""
    total = run.prompt_tokens + run.completion_tokens
    return {"prompt_tokens": run.prompt_tokens, "completion_tokens": run.completion_tokens, "total_tokens": total}


async def start_run(
    request: Request,
    deployment: Deployment,
    generation: Any,
    blocklist: Blocklist,
    grammar_of: Callable[[Any], Any] | None = None,
) -> ChatRun:
    """Check the prompt against the blocklist, wait for a turn on the model and start generating (chat and text
    completions alike). `grammar_of(model)` runs on a worker thread before the turn is taken (a grammar compile
    neither blocks the event loop nor holds the model). The prompt's tokens are checked against the context window on
    the model's thread."""
    match = blocklist.find(generation.prompt_text)
    if match is not None:
        raise prompt_filtered(match)
    slot = deployment.slot
    model = await until_disconnect(request, slot.model())
    grammar = None if grammar_of is None else await until_disconnect(request, asyncio.to_thread(grammar_of, model))
    turn = await until_disconnect(request, slot.take_turn())
    run = ChatRun(slot, generation, grammar, blocklist)
    try:
        await run.start(turn)
    except BaseException:
        run.cancel()
        raise
    finally:
        turn.release_unless_handed_over()
    return run


def event_stream(events: AsyncIterator[str], run: ChatRun) -> ClosingStreamingResponse:
    """A `text/event-stream` answer that stops the run whenever the response ends."""
    return ClosingStreamingResponse(
        events, on_close=run.cancel, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


async def collect(request: Request, run: ChatRun) -> str:
    """The whole answer of a non-streamed run (stopped when the client leaves)."""
    try:
        return await until_disconnect(request, _collect(run))
    finally:
        run.cancel()


async def chat_completions(
    request: Request,
    deployment: Deployment,
    body: Any,
    extra_mode: str,
    openai_style: bool,
    blocklist: Blocklist,
    limits: Limits,
) -> Response:
    """Validate, check the prompt, wait for a turn on the model and answer (streamed or not)."""
    chat = parse_chat(body, extra_mode=extra_mode, openai_style=openai_style, max_messages=limits.max_messages)

    def structured_output(model: ChatModel) -> CompiledGrammar | None:
        chat.bound_json_length(model.json_max_tokens)
        return build_grammar(chat, model.grammars)

    wants_json = chat.json_mode or chat.json_schema is not None
    run = await start_run(request, deployment, chat, blocklist, structured_output if wants_json else None)
    common = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": deployment.model_name}
    if chat.stream:
        return event_stream(_sse(run, common), run)
    text = await collect(request, run)
    choice: dict[str, Any] = {
        "index": 0,
        "finish_reason": run.finish_reason,
        "message": {"role": "assistant", "content": text},
    }
    if run.filter_match is not None:
        choice["content_filter_results"] = content_filter_result(run.filter_match)
    return JSONResponse({**common, "object": "chat.completion", "choices": [choice], "usage": usage_of(run)})


async def _collect(run: ChatRun) -> str:
    return "".join([piece async for piece in run.pieces()])


def sse_data(payload: dict[str, Any]) -> str:
    """One `data:` event."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def _sse(run: ChatRun, common: dict[str, Any]) -> AsyncIterator[str]:
    chunk = {**common, "object": "chat.completion.chunk"}
    yield sse_data(
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    )
    async for piece in run.pieces():
        yield sse_data({**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
    last: dict[str, Any] = {"index": 0, "delta": {}, "finish_reason": run.finish_reason}
    if run.filter_match is not None:
        last["content_filter_results"] = content_filter_result(run.filter_match)
    yield sse_data({**chunk, "choices": [last], "usage": usage_of(run)})
    yield "data: [DONE]\n\n"
