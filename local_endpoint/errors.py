"""Every error body the endpoint sends, in the shapes of docs/api/PROTOCOL.md (the live forms where they differ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import JSONResponse, PlainTextResponse, Response

SERVERLESS_401_MESSAGE = "Auth token validation failed. Please provide a valid key or a valid AAD token"


class ApiError(Exception):
    """An error that knows its HTTP answer."""

    status = 400

    def response(self) -> Response:
        """The HTTP response for this error."""
        raise NotImplementedError


class ContractError(ApiError):
    """The contract shape `{"error":{"code","message",...}}` with header `x-ms-error-code`."""

    def __init__(self, http_status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = http_status, code, message, extra

    def response(self) -> Response:
        """The JSON body and `x-ms-error-code` header."""
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        return JSONResponse(body, status_code=self.status, headers={"x-ms-error-code": self.code})


@dataclass(frozen=True)
class FieldProblem:
    """One entry of a 422 `detail` list: where (`loc` after "body"), the input, a message and a pydantic-style type."""

    loc: tuple[str | int, ...]
    input: Any
    msg: str
    type: str

    @property
    def dotted(self) -> str:
        """`input[0].text` style name of the field."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


class UnprocessableError(ApiError):
    """422 in the list form: `{"status":422,"code":...,"detail":[{"loc","input","msg","type"}],"message":...}`."""

    status = 422

    def __init__(self, code: str, problems: list[FieldProblem]) -> None:
        names = ", ".join(p.dotted for p in problems)
        reasons = "; ".join(f"{p.dotted}: {p.msg}" for p in problems)
        super().__init__(f"{names}: {reasons}")
        self.code, self.problems = code, problems
        self.message = f"One of the parameters contain invalid values ({reasons})."

    def response(self) -> Response:
        """The 422 body with one `detail` entry per problem."""
        detail = [{"loc": ["body", *p.loc], "input": p.input, "msg": p.msg, "type": p.type} for p in self.problems]
        body = {"status": 422, "code": self.code, "detail": detail, "message": self.message}
        return JSONResponse(body, status_code=422, headers={"x-ms-error-code": self.code})


def not_supported(loc: tuple[str | int, ...], value: Any, msg: str) -> UnprocessableError:
    """422 `parameter_not_supported` for a feature or value this model does not offer."""
    return UnprocessableError("parameter_not_supported", [FieldProblem(loc, value, msg, "not_supported")])


def invalid_input(loc: tuple[str | int, ...], value: Any, msg: str, kind: str = "value_error") -> UnprocessableError:
    """422 `invalid_input` for a missing field, a wrong type or a value out of range."""
    return UnprocessableError("invalid_input", [FieldProblem(loc, value, msg, kind)])


class Unauthorized(ApiError):
    """The serverless 401 body."""

    status = 401

    def response(self) -> Response:
        """`{"statusCode":401,"message":...}`."""
        return JSONResponse({"statusCode": 401, "message": SERVERLESS_401_MESSAGE}, status_code=401)


class RouteNotServed(ApiError):
    """A route this deployment does not serve: 404 `text/plain` `NOT FOUND`, as serverless endpoints answer."""

    status = 404

    def response(self) -> Response:
        """Plain-text 404."""
        return PlainTextResponse("NOT FOUND", status_code=404)


class QueueFull(ApiError):
    """429 with `Retry-After` when more requests wait for a model than the configured queue allows."""

    status = 429

    def __init__(self, deployment: str, retry_after_s: int) -> None:
        super().__init__(f"{deployment}: queue full")
        self.deployment, self.retry_after_s = deployment, retry_after_s

    def response(self) -> Response:
        """Contract-shape body plus the three retry-after headers."""
        body = {
            "error": {
                "code": "too_many_requests",
                "message": f"Too many requests are waiting for {self.deployment}; retry after {self.retry_after_s} s.",
            }
        }
        headers = {
            "Retry-After": str(self.retry_after_s),
            "retry-after-ms": str(self.retry_after_s * 1000),
            "x-ms-retry-after-ms": str(self.retry_after_s * 1000),
            "x-ms-error-code": "too_many_requests",
        }
        return JSONResponse(body, status_code=429, headers=headers)


def model_unavailable(deployment: str, reason: str) -> ContractError:
    """503 naming why the model could not be loaded."""
    return ContractError(503, "model_unavailable", f"Model {deployment} is not available: {reason}")


def missing_api_version() -> ContractError:
    """400 for an Azure-style route called without `?api-version=`."""
    return ContractError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )
