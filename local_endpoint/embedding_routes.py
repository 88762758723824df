"""`/embeddings` and `/images/embeddings`: text requests that wait together run together (`embed_batcher`), images
one request at a time; vectors are written by orjson."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from local_endpoint.deployments import Deployment
from local_endpoint.embed_batcher import batcher_for
from local_endpoint.embeddings_request import (
    encode_vectors,
    parse_image_embeddings,
    parse_text_embeddings,
    render_json,
)
from local_endpoint.errors import invalid_input
from local_endpoint.http_common import until_disconnect
from local_endpoint.image_descriptor import ImageDecodeError
from local_endpoint.limits import Limits, too_many


def _result(
    deployment: Deployment, vectors: Any, fmt: str, tokens: int, headers: dict[str, str] | None = None
) -> Response:
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(encode_vectors(vectors, fmt))]
    body = {
        "id": f"embd-{uuid.uuid4().hex}",
        "object": "list",
        "model": deployment.model_name,
        "data": data,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return Response(render_json(body), media_type="application/json", headers=headers)


async def text_embeddings(
    request: Request, deployment: Deployment, body: Any, extra_mode: str, openai_style: bool, limits: Limits
) -> Response:
    """Embed texts with the deployment's model; too many tokens in all is refused before the request queues."""
    parsed = parse_text_embeddings(
        body,
        extra_mode=extra_mode,
        openai_style=openai_style,
        native_dims=deployment.dimensions,
        max_inputs=limits.max_inputs,
    )
    slot = deployment.slot
    embedder = await until_disconnect(request, slot.model())
    # Tokenising off the model's thread keeps an oversized request from waiting in the queue only to be refused.
    encodings = await asyncio.get_running_loop().run_in_executor(None, embedder.tokenize, parsed.inputs)
    tokens = sum(len(e.ids) for e in encodings)
    if tokens > limits.max_embedding_tokens:
        raise too_many("input", tokens, limits.max_embedding_tokens, "tokens", "LOCAL_ENDPOINT_MAX_EMBEDDING_TOKENS")
    # Queued requests of this model run together; a client that leaves while waiting frees its place.
    done = await until_disconnect(request, batcher_for(slot).embed(encodings))
    headers = {"x-embedding-batch": done.run.header()}
    return _result(deployment, done.vectors, parsed.encoding_format, done.tokens, headers)


async def image_embeddings(
    request: Request, deployment: Deployment, body: Any, extra_mode: str, limits: Limits
) -> Response:
    """Describe a list of images with the classical descriptor."""
    parsed = parse_image_embeddings(
        body, extra_mode=extra_mode, native_dims=deployment.dimensions, max_inputs=limits.max_inputs
    )
    slot = deployment.slot
    turn = await until_disconnect(request, slot.take_turn())
    try:
        vectors = await slot.run(turn, lambda model: model.embed(parsed.inputs))
    except ImageDecodeError as exc:
        index = exc.index if exc.index is not None else 0
        raise invalid_input(("input", index, "image"), f"<{len(parsed.inputs[index])} bytes>", str(exc)) from exc
    finally:
        turn.release_unless_handed_over()
    # An image counts as one token: the descriptor reads no text.
    return _result(deployment, vectors, parsed.encoding_format, len(parsed.inputs))
