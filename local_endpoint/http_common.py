"""Request plumbing shared by the routes: api-version, extra-parameters, JSON bodies, deployment lookup,
client-disconnect watching, and the middleware for keys and request ids."""

from __future__ import annotations

import asyncio
import hmac
import json
import uuid
from collections.abc import Awaitable
from typing import Any, Literal, TypeVar

from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from local_endpoint.deployments import Deployment
from local_endpoint.errors import ContractError, RouteNotServed, Unauthorized, missing_api_version
from local_endpoint.limits import Limits, body_too_large
from local_endpoint.params import EXTRA_PARAMETER_MODES

API_VERSIONS = ("2024-05-01-preview", "2025-04-01")
MAX_BODY_BYTES = Limits().max_body_bytes
Style = Literal["serverless", "models", "v1"]
T = TypeVar("T")


class ClientGone(Exception):
    """The client closed the connection before the answer was ready."""


def require_api_version(request: Request) -> str:
    """The `api-version` query value; 400 in the contract's form when absent or unknown."""
    version = request.query_params.get("api-version")
    if not version:
        raise missing_api_version()
    if version not in API_VERSIONS:
        raise ContractError(
            400,
            "UnsupportedApiVersion",
            f"The HTTP resource that matches the request URI '{request.url.path}' does not support the API version "
            f"'{version}'. Supported: {', '.join(API_VERSIONS)}.",
        )
    return version


def extra_parameters_mode(request: Request) -> str:
    """The `extra-parameters` header (default `error`); an invalid value is a 400."""
    mode = request.headers.get("extra-parameters", "error").strip().lower() or "error"
    if mode not in EXTRA_PARAMETER_MODES:
        raise ContractError(
            400,
            "invalid_extra_parameters",
            f"The extra-parameters header must be one of {', '.join(EXTRA_PARAMETER_MODES)}; got '{mode}'.",
        )
    return mode


async def read_json(request: Request, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """The parsed JSON body; 413 past `max_bytes` (chunked bodies too), 400 in the contract's form when not JSON."""
    length = request.headers.get("content-length")
    # isdigit() alone accepts digits such as '²' that int() refuses.
    if length and length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise body_too_large(max_bytes, int(length), declared=True)
    raw = bytearray()
    try:
        # Read piece by piece so a chunked body (no Content-Length) is refused as soon as it passes the limit;
        # the server discards whatever the client still sends.
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > max_bytes:
                raise body_too_large(max_bytes, len(raw), declared=False)
    except ClientDisconnect as exc:
        raise ClientGone() from exc
    return parse_json_body(bytes(raw))


def parse_json_body(raw: bytes) -> Any:
    """`raw` as strict JSON (no NaN or Infinity, which no JSON parser on the client side may send); 400 otherwise."""
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ContractError(400, "invalid_json", f"The request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ContractError(400, "invalid_json", "The request body is not valid JSON: nested too deeply") from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def find_deployment(
    deployments: dict[str, Deployment], request: Request, style: Style, operation: str, body: Any
) -> Deployment:
    """The deployment a request addresses: from the path (serverless) or the body/query `model` (others)."""
    if style == "serverless":
        found = deployments.get(request.path_params["deployment"])
        if found is None or (operation != "info" and not found.serves(operation)):
            raise RouteNotServed()
        return found
    name = body.get("model") if isinstance(body, dict) else None
    if name is None and operation == "info":
        name = request.query_params.get("model")
    if not isinstance(name, str) or not name:
        known = ", ".join(deployments)
        raise ContractError(400, "missing_model", f"Name the deployment in 'model'; this endpoint serves: {known}.")
    found = deployments.get(name)
    if found is None:
        known = ", ".join(deployments)
        raise ContractError(404, "unknown_model", f"Unknown model: {name}. This endpoint serves: {known}.")
    if operation != "info" and not found.serves(operation):
        raise RouteNotServed()
    return found


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await `work`, cancelling it and raising ClientGone if the client disconnects first."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_for_disconnect(request.receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    raise ClientGone()


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class KeyAndRequestIdMiddleware:
    """Adds `x-request-id`/`apim-request-id` to every answer; with a key configured, refuses requests without it."""

    OPEN_PATHS = ("/health",)

    def __init__(self, app: ASGIApp, key: str | None) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"x-request-id", request_id.encode()), (b"apim-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        if self.key and scope["path"] not in self.OPEN_PATHS and not self._authorised(scope):
            await Unauthorized().response()(scope, receive, send_with_id)
            return
        await self.app(scope, receive, send_with_id)

    def _authorised(self, scope: Scope) -> bool:
        assert self.key is not None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        offered = [headers.get("api-key", "")]
        auth = headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            offered.append(auth[7:].strip())
        return any(o and hmac.compare_digest(o.encode(), self.key.encode()) for o in offered)
