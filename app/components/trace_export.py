"""The traces the filter selects, as files: JSONL (one stored span per line) and OTLP/JSON (what a collector takes).

The files are built only when a button is clicked (a callable `data`), so a large selection costs nothing per run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import streamlit as st

from app.components.trace_errors import loads
from services.store.traces import TraceFilter, TraceStore, TraceStoreError

log = logging.getLogger(__name__)

EXPORT_LIMIT = 10_000  # spans per file
_JSON_COLUMNS = ("request", "answer", "error_detail")


def jsonl(rows: list[dict[str, Any]]) -> str:
    """One span per line; the stored JSON columns as objects, not as strings within strings."""
    lines = []
    for row in rows:
        item = {name: value for name, value in row.items() if name != "search"}  # `search` repeats the content
        for name in _JSON_COLUMNS:
            item[name] = loads(row.get(name))
        lines.append(json.dumps(item, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def otlp(rows: list[dict[str, Any]]) -> str:
    """The spans as one OTLP/JSON export request (services.trace_otlp)."""
    from services.trace_otlp import otlp_json  # the OpenTelemetry packages load only when this is asked for

    return otlp_json(rows)


def _deferred(
    store: TraceStore, where: TraceFilter, encode: Callable[[list[dict[str, Any]]], str]
) -> Callable[[], str]:
    def build() -> str:
        try:
            return encode(store.spans_of(where, limit=EXPORT_LIMIT))
        except TraceStoreError as err:
            # Runs outside the page: the file says what went wrong instead of a broken download.
            log.warning("trace export failed: %s", err)
            return json.dumps({"error": str(err)})

    return build


def render_export(store: TraceStore, where: TraceFilter, traces: int) -> None:
    """Two download buttons for the filtered traces (at most EXPORT_LIMIT spans each)."""
    row = st.container(horizontal=True, gap="small", vertical_alignment="center")
    row.download_button(
        "Export JSONL",
        _deferred(store, where, jsonl),
        file_name="traces.jsonl",
        mime="application/jsonl",
        key="traces_export_jsonl",
        icon=":material/download:",
        disabled=not traces,
    )
    row.download_button(
        "Export OTLP JSON",
        _deferred(store, where, otlp),
        file_name="traces.otlp.json",
        mime="application/json",
        key="traces_export_otlp",
        icon=":material/download:",
        disabled=not traces,
    )
    noun = "trace" if traces == 1 else "traces"
    row.caption(f"The {traces:,} {noun} of this filter, up to {EXPORT_LIMIT:,} calls per file.")
