"""Errors in plain words: the (title, body) an error card shows, for any layer that keeps or shows an error.

The words never hold a key or a header value (the errors are redacted by the client before they reach here), and
text from an endpoint is bounded and made inert for Markdown (`plain`). The app's error card draws these words;
the evaluation runner stores them per cell.
"""

from __future__ import annotations

import json
import re
from typing import Any

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

KEY_SOURCES = {
    "file": "the configuration file",
    "key_file": "the file its key_file names",
    "secrets": "the secrets file (.streamlit/secrets.toml)",
    "secrets_dir": "the secrets directory (PLAYGROUND_SECRETS_DIR)",
    "environment": "an environment variable",
    "session": "the key entered in this session",
    "none": "nowhere: no key is configured",
}
ROUTE_NAMES = {
    "/chat/completions": "chat",
    "/embeddings": "text embeddings",
    "/images/embeddings": "image embeddings",
    "/info": "model information (/info)",
    "/completions": "text completion (/completions)",
    "/images/generations": "image generation",
}


# What lets foreign text act rather than read: links and images (`[`), autolinks and HTML (`<`), Streamlit's
# directives (`:red[...]`), math (`$`), code spans and escapes. Emphasis is left alone: it only changes the look.
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]<>$])")
_FOREIGN_MAX = 600


def plain(text: object) -> str:
    """Text from an endpoint (or any foreign source) made inert for st.markdown: bounded, every special escaped."""
    flat = " ".join(str(text).split())
    if len(flat) > _FOREIGN_MAX:
        flat = flat[: _FOREIGN_MAX - 1] + "…"
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def _value_text(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    # Shown inside a code span, where escapes do not work: a backtick would end it.
    text = text.replace("`", "'")
    return text if len(text) <= 120 else text[:119] + "…"


def describe_error(err: BaseException) -> tuple[str, str]:
    """(title, body) in plain words for an error; the body never contains a key."""
    if isinstance(err, UnsupportedParameterError) and err.param == "messages":
        return (
            f"{err.deployment} does not accept `{err.value}` content",
            f"The deployment reads only some kinds of message content: {plain(err.message)}",
        )
    if isinstance(err, UnsupportedParameterError) and err.invalid_value:
        return (
            f"{err.deployment} does not accept this value of `{err.param}`",
            f"The deployment supports `{err.param}` but rejected the value `{_value_text(err.value)}`: "
            f"{plain(err.message)}. "
            "Change the value, or retry with the parameter switched off.",
        )
    if isinstance(err, UnsupportedParameterError):
        return (
            f"{err.deployment} does not support `{err.param}`",
            f"The deployment rejected the parameter `{err.param}` with the value `{_value_text(err.value)}`.",
        )
    if isinstance(err, ContentFilterError):
        return ("The prompt was blocked by the content filter", f"{err.deployment} refused to answer this prompt.")
    if isinstance(err, AuthenticationError):
        if err.key_source == "none":
            # There is no key to check: say where one can be set instead.
            return (
                f"{err.deployment} did not accept its key",
                f"The endpoint answered {err.status or 401} and no key is configured for **{err.deployment}**: "
                "set one in the configuration file or the environment, or add the deployment again with its key.",
            )
        source = KEY_SOURCES.get(err.key_source, err.key_source)
        return (
            f"{err.deployment} did not accept its key",
            f"The endpoint answered {err.status or 401}. The key for **{err.deployment}** came from {source}; "
            "check it there and try again.",
        )
    if isinstance(err, ModalityNotSupportedError):
        what = ROUTE_NAMES.get(err.route, err.route)
        return (
            f"{err.deployment} offers no {what}",
            f"The route `{err.route}` is not served by this deployment (HTTP {err.status}: {plain(err.message)}). "
            "Pick another deployment.",
        )
    if isinstance(err, RateLimitError):
        wait = f"Retry in {err.retry_after:.0f} s." if err.retry_after is not None else "Wait a moment and retry."
        return (f"{err.deployment} is rate limited", f"Too many requests (429). {wait}")
    if isinstance(err, StreamInterruptedError):
        return (
            f"The answer from {err.deployment} was cut off",
            f"The connection to `{err.host}` broke while streaming: {plain(err.reason)}. The partial answer is kept.",
        )
    if isinstance(err, EndpointBlockedError):
        return (f"{err.deployment} is not allowed from this server", f"Nothing was sent. {plain(err.message)}")
    if isinstance(err, RedirectRefusedError):
        return (
            f"{err.deployment} answered with a redirect",
            f"The endpoint pointed elsewhere (`{_value_text(err.location)}`); the playground does not follow "
            "redirects. Use the final URL as the endpoint.",
        )
    if isinstance(err, ImageFetchError):
        return (
            f"The image from {err.deployment} could not be fetched",
            f"The deployment answered with a link to the image, and fetching it failed ({plain(err.reason)}): "
            f"{plain(err.message)}",
        )
    if isinstance(err, EndpointUnavailableError):
        return (f"Cannot reach {err.deployment}", f"`{err.host}` is unavailable: {plain(err.reason)}.")
    if isinstance(err, InvalidRequestError) and err.code == "context_length_exceeded":
        # Azure OpenAI and the embedded endpoint use this code; every later turn would fail the same way.
        return (
            f"The conversation is too long for {err.deployment}",
            f"HTTP {err.status}: {plain(err.message)}. Edit or remove a long message, clear the conversation, "
            "or pick a deployment with a longer context window.",
        )
    if isinstance(err, InvalidRequestError):
        return (f"{err.deployment} rejected the request", f"HTTP {err.status}: {plain(err.message)}")
    if isinstance(err, InferenceError):
        return (f"{err.deployment} failed", plain(err.message))
    return ("Something went wrong", plain(err) or type(err).__name__)


def error_text(err: BaseException) -> str:
    """The card's title and body as one line ("Title. Body"), e.g. for a stored evaluation cell."""
    title, body = describe_error(err)
    return f"{title}. {body}"
