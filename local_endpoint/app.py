"""The ASGI application: routes for the serverless, multi-model and OpenAI-compatible styles (plus OpenAI's
`/completions` on each, for the chat model)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from local_endpoint.blocklist import Blocklist
from local_endpoint.chat_routes import chat_completions
from local_endpoint.completion_routes import text_completions
from local_endpoint.config import EndpointConfig
from local_endpoint.deployments import build_deployments
from local_endpoint.embedding_routes import image_embeddings, text_embeddings
from local_endpoint.errors import ApiError, ContractError, RouteNotServed
from local_endpoint.http_common import (
    ClientGone,
    KeyAndRequestIdMiddleware,
    Style,
    extra_parameters_mode,
    find_deployment,
    read_json,
    require_api_version,
)

log = logging.getLogger("local_endpoint")
Handler = Callable[[Request], Awaitable[Response]]


def _answering_errors(handler: Handler) -> Handler:
    """Turn ApiErrors into their responses, a vanished client into nothing, and anything else into a clean 500."""

    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except ClientGone:
            return Response(status_code=499)
        except Exception as exc:
            log.exception("unexpected error on %s", request.url.path)
            return ContractError(500, "internal_error", f"The endpoint failed: {type(exc).__name__}").response()

    return wrapped


def create_app(config: EndpointConfig) -> Starlette:
    """The endpoint for `config`; models start loading when the server starts."""
    deployments = build_deployments(config)
    blocklist = Blocklist.with_defaults(config.extra_blocklist)
    limits = config.limits
    started = int(time.time())

    async def health(request: Request) -> Response:
        if request.query_params.get("ready") in (None, "", "0"):
            return JSONResponse({"status": "ok"})
        states = {d.name: d.slot.state for d in deployments.values()}
        errors = {d.name: d.slot.error for d in deployments.values() if d.slot.error}
        settled = all(s != "loading" for s in states.values())
        busy = {d.name: d.slot.busy for d in deployments.values()}
        body = {"status": "ok" if settled else "loading", "models": states, "errors": errors, "busy": busy}
        return JSONResponse(body, status_code=200 if settled else 503)

    def operation_route(operation: str, style: Style) -> Handler:
        async def handle(request: Request) -> Response:
            if style != "v1":
                require_api_version(request)
            if operation == "info":
                return JSONResponse(find_deployment(deployments, request, style, "info", None).info())
            extra_mode = extra_parameters_mode(request)
            if style == "serverless":
                # A route the deployment does not serve answers 404 before the body is read.
                deployment = find_deployment(deployments, request, style, operation, None)
                body = await read_json(request, limits.max_body_bytes)
            else:
                body = await read_json(request, limits.max_body_bytes)
                deployment = find_deployment(deployments, request, style, operation, body)
            openai_style = style == "v1"
            if operation == "chat":
                return await chat_completions(request, deployment, body, extra_mode, openai_style, blocklist, limits)
            if operation == "completions":
                return await text_completions(request, deployment, body, extra_mode, openai_style, blocklist)
            if operation == "embeddings":
                return await text_embeddings(request, deployment, body, extra_mode, openai_style, limits)
            if operation != "images/embeddings":
                raise RouteNotServed()  # image generation: no deployment serves it (find_deployment refused it first)
            return await image_embeddings(request, deployment, body, extra_mode, limits)

        return _answering_errors(handle)

    async def list_models(_request: Request) -> Response:
        data = [
            {"id": name, "object": "model", "created": started, "owned_by": "local_endpoint"} for name in deployments
        ]
        return JSONResponse({"object": "list", "data": data})

    async def not_served(_request: Request) -> Response:
        return RouteNotServed().response()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/chat/completions", operation_route("chat", "v1"), methods=["POST"]),
        Route("/v1/completions", operation_route("completions", "v1"), methods=["POST"]),
        Route("/v1/embeddings", operation_route("embeddings", "v1"), methods=["POST"]),
        Route("/models/info", operation_route("info", "models"), methods=["GET"]),
        Route("/models/chat/completions", operation_route("chat", "models"), methods=["POST"]),
        Route("/models/completions", operation_route("completions", "models"), methods=["POST"]),
        Route("/models/embeddings", operation_route("embeddings", "models"), methods=["POST"]),
        Route("/models/images/embeddings", operation_route("images/embeddings", "models"), methods=["POST"]),
        Route("/{deployment}/info", operation_route("info", "serverless"), methods=["GET"]),
        Route("/{deployment}/chat/completions", operation_route("chat", "serverless"), methods=["POST"]),
        Route("/{deployment}/completions", operation_route("completions", "serverless"), methods=["POST"]),
        Route("/{deployment}/embeddings", operation_route("embeddings", "serverless"), methods=["POST"]),
        Route("/{deployment}/images/embeddings", operation_route("images/embeddings", "serverless"), methods=["POST"]),
        # No image generator ships with the endpoint (no package here carries generator weights): every deployment
        # answers image generation the way a model without the route does, after the same key, version and model
        # checks as its other routes.
        Route("/v1/images/generations", operation_route("images/generations", "v1"), methods=["POST"]),
        Route("/models/images/generations", operation_route("images/generations", "models"), methods=["POST"]),
        Route(
            "/{deployment}/images/generations", operation_route("images/generations", "serverless"), methods=["POST"]
        ),
        Route("/{path:path}", not_served, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        for deployment in deployments.values():
            deployment.slot.start_loading()
        yield
        for deployment in deployments.values():
            deployment.slot.cancel_pending()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(KeyAndRequestIdMiddleware, key=config.key)],
    )
    app.state.deployments = deployments
    return app
