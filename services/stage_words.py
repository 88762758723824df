"""Errors in stage words: what presenter mode's error cards say to a room of people who do not write code.

No endpoint, host, HTTP status, response body, parameter value, key source or id: only the deployment's name (already
on the page) and what to do next. services.error_words has the full words for everyone else.
"""

from __future__ import annotations

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

TRY_AGAIN = "Try again in a moment."


def _name(err: BaseException) -> str:
    """The deployment's name as the page already shows it, else "The model"."""
    return str(getattr(err, "deployment", "") or "").strip() or "The model"


def stage_words(err: BaseException) -> tuple[str, str]:
    """(title, body) in plain words for an error shown on stage; never technical detail from the error itself."""
    name = _name(err)
    if isinstance(err, UnsupportedParameterError) and err.param == "messages":
        return (f"{name} cannot read this kind of content", "It reads text only here. Retry without the images.")
    if isinstance(err, UnsupportedParameterError):
        return (f"{name} did not accept one of the settings", "Retry without it, or change the settings.")
    if isinstance(err, ContentFilterError):
        return ("The prompt was blocked by the content filter", f"{name} declined to answer this prompt.")
    if isinstance(err, AuthenticationError):
        return (f"{name} could not be signed in to", "Its access is not set up right. Ask the organiser to check it.")
    if isinstance(err, ModalityNotSupportedError):
        return (f"{name} cannot do this", "Pick another model.")
    if isinstance(err, RateLimitError):
        return (f"{name} is busy", "Too many requests right now. " + TRY_AGAIN)
    if isinstance(err, StreamInterruptedError):
        return (f"The answer from {name} was cut off", "The connection broke. The text that arrived is kept.")
    if isinstance(err, EndpointBlockedError | RedirectRefusedError):
        return (f"{name} is not available here", "Pick another model.")
    if isinstance(err, ImageFetchError):
        return (f"The image from {name} could not be fetched", TRY_AGAIN)
    if isinstance(err, EndpointUnavailableError):
        return (f"Cannot reach {name}", "It is not answering right now. " + TRY_AGAIN)
    if isinstance(err, InvalidRequestError) and err.code == "context_length_exceeded":
        return (f"The conversation is too long for {name}", "Clear the conversation and start again.")
    if isinstance(err, InvalidRequestError):
        return (f"{name} could not answer this request", "Try rephrasing it, or pick another model.")
    if isinstance(err, InferenceError):
        return (f"{name} failed to answer", TRY_AGAIN)
    return ("Something went wrong", TRY_AGAIN)
