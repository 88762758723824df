"""Where a trace is shown: the Traces page's url path and the link that opens one trace there."""

from __future__ import annotations

import re

import streamlit as st

TRACES_URL_PATH = "traces"
QUERY_TRACE = "trace"
_TRACE_ID = re.compile(r"^[0-9a-f]{32}$")


def is_trace_id(text: object) -> bool:
    """True for 32 lowercase hex digits, the only thing a `?trace=` link may hold."""
    return isinstance(text, str) and bool(_TRACE_ID.match(text))


def trace_path(trace_id: str) -> str:
    """The Traces page opened on one trace, from the server's root (`/traces?trace=<id>`)."""
    return f"/{TRACES_URL_PATH}?{QUERY_TRACE}={trace_id}"


def trace_url(trace_id: str) -> str:
    """The link to one trace, under the address this page was reached at (so a base URL path is kept)."""
    page_url = str(getattr(st.context, "url", "") or "")
    base = page_url.split("?", 1)[0].rsplit("/", 1)[0] if page_url.startswith(("http://", "https://")) else ""
    return base + trace_path(trace_id)
