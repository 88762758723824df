"""Per-request limits (body size, message and input counts, embedding tokens) and the errors that name them."""

from __future__ import annotations

from dataclasses import dataclass

from local_endpoint.errors import ContractError, UnprocessableError, invalid_input

MIB = 2**20


@dataclass(frozen=True)
class Limits:
    """What one request may carry; each is set by a `LOCAL_ENDPOINT_MAX_*` variable (see README.md)."""

    max_body_bytes: int = 64 * MIB
    # Azure OpenAI's documented ceiling for the messages array.
    max_messages: int = 2048
    # The API's (and OpenAI's) ceiling for inputs per embeddings request.
    max_inputs: int = 2048
    # OpenAI's ceiling for the tokens of all inputs of one embeddings request.
    max_embedding_tokens: int = 300_000


def body_too_large(limit_bytes: int, received: int, *, declared: bool) -> ContractError:
    """413 naming the limit and the body's size (declared in Content-Length, or read so far from a chunked body)."""
    size = f"{received} bytes" if declared else f"at least {received} bytes (stopped reading there)"
    return ContractError(
        413,
        "payload_too_large",
        f"The request body is larger than the limit of {_size(limit_bytes)} (LOCAL_ENDPOINT_MAX_BODY_MB): {size}.",
    )


def too_many(field: str, count: int, limit: int, what: str, variable: str) -> UnprocessableError:
    """422 `invalid_input` on `field` naming how many `what` came and how many one request may carry."""
    return invalid_input((field,), count, f"At most {limit} {what} per request ({variable}); got {count}", "too_long")


def _size(n: int) -> str:
    return f"{n // MIB} MiB" if n % MIB == 0 else f"{n} bytes"
