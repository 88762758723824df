"""Errors as cards in plain words, shown where they happened; never a key, never a stack trace.

In presenter mode a card holds stage words only (services.stage_words): no endpoint, status, body, key source, request
or trace id, content-filter table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from app.chat_params import JsonFieldError
from app.components import presenter
from app.components.trace_links import is_trace_id, trace_url
from services import error_words
from services.error_words import KEY_SOURCES, ROUTE_NAMES, plain
from services.errors import ContentFilterError, InferenceError, UnsupportedParameterError
from services.stage_words import stage_words

__all__ = [
    "KEY_SOURCES",
    "ROUTE_NAMES",
    "describe_error",
    "describe_on_stage",
    "plain",
    "render_error",
    "render_filtered_answer",
]


def describe_error(err: BaseException) -> tuple[str, str]:
    """(title, body) in plain words for an error; the body never contains a key (services.error_words has the
    words for the service errors; an editor's invalid JSON is the app's own)."""
    if isinstance(err, JsonFieldError):
        return ("Invalid JSON in an editor: nothing was sent", plain(err))
    return error_words.describe_error(err)


def describe_on_stage(err: BaseException) -> tuple[str, str]:
    """(title, body) for presenter mode: plain words, nothing technical from the error (an editor's JSON included)."""
    if isinstance(err, JsonFieldError):
        return ("A setting is not valid JSON: nothing was sent", "Fix it in the settings and retry.")
    return stage_words(err)


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
        if presenter.is_on():
            st.markdown("The text that arrived before it is kept.")
            return
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
    on_stage = presenter.is_on()
    title, body = describe_on_stage(err) if on_stage else describe_error(err)
    with st.container(border=True, key=f"errcard_{key}"):
        st.markdown(f"**:red[{title}]**")
        st.markdown(body)
        if on_stage:
            _render_buttons(err, key, on_retry_without, on_retry)
            return
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
        _render_buttons(err, key, on_retry_without, on_retry)


def _render_buttons(
    err: BaseException,
    key: str,
    on_retry_without: Callable[[str], None] | None,
    on_retry: Callable[[], None] | None,
) -> None:
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
