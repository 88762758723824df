"""Presenter mode's error words: every kind of error in plain words, with nothing technical from the error itself."""

from __future__ import annotations

import pytest

from services.error_words import KEY_SOURCES, describe_error
from services.errors import (
    AuthenticationError,
    ContentFilterError,
    EndpointBlockedError,
    EndpointUnavailableError,
    ImageFetchError,
    InferenceError,
    InvalidRequestError,
    ModalityNotSupportedError,
    RateLimitError,
    RedirectRefusedError,
    StreamInterruptedError,
    UnsupportedParameterError,
)
from services.stage_words import stage_words

HOST = "secret-host.internal.example:8443"
BODY = "upstream said x-ms-region=westeurope req 9f8e7d6c"
COMMON = {"deployment": "gpt-demo", "status": 418, "code": "WeirdCode", "request_id": "req-0a1b2c3d4e"}

ERRORS = [
    UnsupportedParameterError(BODY, param="messages", value="image_url", **COMMON),
    UnsupportedParameterError(BODY, param="temperature", value=1.5, invalid_value=True, **COMMON),
    UnsupportedParameterError(BODY, param="tools", value=[{"type": "function"}], **COMMON),
    ContentFilterError(BODY, categories={"violence": {"filtered": True}}, **COMMON),
    AuthenticationError(BODY, key_source="secrets", **COMMON),
    AuthenticationError(BODY, key_source="none", **COMMON),
    ModalityNotSupportedError(BODY, route="/chat/completions", **COMMON),
    RateLimitError(BODY, retry_after=42, **COMMON),
    StreamInterruptedError(BODY, host=HOST, reason="reset by peer", **COMMON),
    EndpointBlockedError(BODY, host=HOST, **COMMON),
    RedirectRefusedError(BODY, location=f"https://{HOST}/x", **COMMON),
    ImageFetchError(BODY, host=HOST, reason="timeout", **COMMON),
    EndpointUnavailableError(BODY, host=HOST, reason="connection refused", **COMMON),
    InvalidRequestError(BODY, **{**COMMON, "code": "context_length_exceeded"}),
    InvalidRequestError(BODY, **COMMON),
    InferenceError(BODY, **COMMON),
    RuntimeError(BODY),
]


@pytest.mark.parametrize("err", ERRORS, ids=lambda e: type(e).__name__)
def test_stage_words_hold_no_host_status_body_key_source_or_id(err: BaseException) -> None:
    title, body = stage_words(err)
    words = f"{title} {body}"
    for technical in (HOST, "secret-host", BODY, "9f8e7d6c", "418", "WeirdCode", "req-0a1b2c3d4e", "HTTP", "`"):
        assert technical not in words, (technical, words)
    for source in KEY_SOURCES.values():
        assert source not in words
    assert title and body.endswith(".")


@pytest.mark.parametrize("err", ERRORS[:-1], ids=lambda e: type(e).__name__)
def test_stage_words_name_the_deployment_like_the_full_card(err: BaseException) -> None:
    title, body = stage_words(err)
    assert "gpt-demo" in f"{title} {body}" or "gpt-demo" not in "".join(describe_error(err))


def test_the_full_words_do_show_the_details_the_stage_leaves_out() -> None:
    # The other side of the first test: the same errors do carry those details outside presenter mode.
    _, body = describe_error(AuthenticationError(BODY, key_source="secrets", **COMMON))
    assert KEY_SOURCES["secrets"] in body
    _, body = describe_error(EndpointUnavailableError(BODY, host=HOST, reason="refused", **COMMON))
    assert HOST in body
