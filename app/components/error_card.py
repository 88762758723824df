"""Errors as cards in plain words, shown where they happened; never a key, never a stack trace."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import streamlit as st

from app.chat_params import JsonFieldError
from app.components.trace_links import is_trace_id, trace_url
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
    "secrets": "the secrets file (.streamlit/secrets.toml)",
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
    if isinstance(err, JsonFieldError):
        return ("Invalid JSON in an editor: nothing was sent", plain(err))
    return ("Something went wrong", plain(err) or type(err).__name__)


def retry_without_label(err: UnsupportedParameterError) -> str:
    """The button text: the parameter's name, or "images" when message content (an image) was refused."""
    return "Retry without images" if err.param == "messages" else f"Retry without {err.param}"


def render_content_filter(categories: dict[str, Any], *, blocked: str) -> None:
    """A table of content-filter categories with filtered and severity; `blocked` is "prompt" or "answer"."""
    rows = []
    for name, result in categories.items():
        if not isinstance(result, dict):
            continue
        severity = result.get("severity") or ("detected" if result.get("detected") else "–")
        filtered = "**filtered**" if result.get("filtered") else "not filtered"
        rows.append(f"| {plain(name.replace('_', ' '))} | {filtered} | {plain(severity)} |")
    if rows:
        st.markdown("\n".join(["| category | result | severity |", "|---|---|---|", *rows]))
    else:
        st.caption(f"The endpoint gave no per-category results for the {blocked}.")


def render_filtered_answer(categories: dict[str, Any] | None, *, key: str) -> None:
    """The card for an answer that ended with `finish_reason: content_filter`."""
    with st.container(border=True, key=f"errcard_filtered_{key}"):
        st.markdown("**:orange[The answer was cut off by the content filter]**")
        st.caption("The model's output was filtered (finish reason `content_filter`); the text so far is kept.")
        render_content_filter(categories or {}, blocked="answer")


def render_error(
    err: InferenceError | Exception,
    *,
    key: str,
    on_retry_without: Callable[[str], None] | None = None,
    on_retry: Callable[[], None] | None = None,
) -> None:
    """Show an error as a bordered card; offers "Retry without <param>" for a rejected parameter."""
    title, body = describe_error(err)
    with st.container(border=True, key=f"errcard_{key}"):
        st.markdown(f"**:red[{title}]**")
        st.markdown(body)
        if isinstance(err, ContentFilterError):
            render_content_filter(err.categories, blocked="prompt")
        trace_id = getattr(err, "trace_id", None)
        where = []
        if isinstance(err, InferenceError) and err.request_id:
            where.append(f"Request id: `{err.request_id}`")
        if is_trace_id(trace_id):
            where.append(f"[Open its trace]({trace_url(trace_id)})")  # every attempt, as sent and as answered
        if where:
            st.caption(" · ".join(where))
        buttons = st.container(horizontal=True, gap="small")
        if isinstance(err, UnsupportedParameterError) and on_retry_without is not None:
            buttons.button(
                retry_without_label(err),
                key=f"retry_without_{key}",
                on_click=on_retry_without,
                args=(err.param,),
            )
        if on_retry is not None:
            buttons.button("Retry", key=f"retry_{key}", on_click=on_retry)
