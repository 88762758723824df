"""`/completions` (OpenAI's classic text completion, not in the Azure contract): the raw prompt continued, one JSON
answer or a stream of `text_completion` chunks, with chat's checks, queue and output filter."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from local_endpoint.blocklist import Blocklist, content_filter_result
from local_endpoint.chat_routes import collect, event_stream, sse_data, start_run, usage_of
from local_endpoint.chat_run import ChatRun
from local_endpoint.completion_request import parse_completion
from local_endpoint.deployments import Deployment


def _choice(text: str, finish_reason: str | None, run: ChatRun | None = None) -> dict[str, Any]:
    choice: dict[str, Any] = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}
    if run is not None and run.filter_match is not None:
        choice["content_filter_results"] = content_filter_result(run.filter_match)
    return choice


async def text_completions(
    request: Request, deployment: Deployment, body: Any, extra_mode: str, openai_style: bool, blocklist: Blocklist
) -> Response:
    """Validate, check the prompt, wait for a turn on the model and answer (streamed or not); `echo` puts the prompt
    before the continuation."""
    completion = parse_completion(body, extra_mode=extra_mode, openai_style=openai_style)
    run = await start_run(request, deployment, completion, blocklist)
    common = {
        "id": f"cmpl-{uuid.uuid4().hex}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": deployment.model_name,
    }
    echoed = completion.prompt if completion.echo else ""
    if completion.stream:
        return event_stream(_sse(run, common, echoed), run)
    text = await collect(request, run)
    return JSONResponse({**common, "choices": [_choice(echoed + text, run.finish_reason, run)], "usage": usage_of(run)})


async def _sse(run: ChatRun, common: dict[str, Any], echoed: str) -> AsyncIterator[str]:
    if echoed:
        yield sse_data({**common, "choices": [_choice(echoed, None)]})
    async for piece in run.pieces():
        yield sse_data({**common, "choices": [_choice(piece, None)]})
    yield sse_data({**common, "choices": [_choice("", run.finish_reason, run)], "usage": usage_of(run)})
    yield "data: [DONE]\n\n"
