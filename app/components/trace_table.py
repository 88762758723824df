"""The Traces page's list: filters, sorting, paging and one row per trace (one page of rows read at a time)."""

from __future__ import annotations

import datetime
import hashlib
import time
from typing import Any

import pandas as pd
import streamlit as st

from app.components import pager
from app.components.trace_links import QUERY_TRACE
from services.store.traces import SORTS, TraceFilter, TraceStore

PAGE_SIZES = (25, 50, 100)
OPERATIONS = ("chat", "text_completion", "embeddings", "image_embeddings", "image_generation", "info", "models")
_DATES = "Between dates"
TIME_RANGES: dict[str, float | None] = {
    "Any time": None,
    "Last 15 minutes": 15 * 60,
    "Last hour": 3600,
    "Last 24 hours": 86_400,
    "Last 7 days": 7 * 86_400,
    _DATES: None,
}
SORT_LABELS = {"time": "Time", "latency": "Latency", "tokens": "Tokens", "cost": "Cost", "errors": "Errors"}
PAGE_KEY = "traces_page"
_ROW_IDS = "traces_row_ids"


def _time_bounds(window: str) -> tuple[int | None, int | None]:
    if window == _DATES:
        picked = st.session_state.get("traces_dates") or ()
        if len(picked) != 2:
            return None, None
        start = datetime.datetime.combine(picked[0], datetime.time.min)
        end = datetime.datetime.combine(picked[1], datetime.time.max)
        return int(start.timestamp() * 1e9), int(end.timestamp() * 1e9)
    seconds = TIME_RANGES.get(window)
    return (time.time_ns() - int(seconds * 1e9), None) if seconds is not None else (None, None)


def render_filters(deployments: list[str]) -> TraceFilter:
    """Deployment, operation, time range, free text and errors only; returns the filter they make."""
    row = st.columns([2.2, 2.2, 1.6, 2.4, 1.3], vertical_alignment="bottom")
    chosen = row[0].multiselect("Deployment", deployments, key="traces_deployments", placeholder="All")
    operations = row[1].multiselect("Operation", OPERATIONS, key="traces_operations", placeholder="All")
    window = row[2].selectbox("Time", list(TIME_RANGES), key="traces_window")
    text = row[3].text_input("Search prompts and answers", key="traces_text", placeholder="words in a prompt or answer")
    errors_only = row[4].toggle("Errors", key="traces_errors", help="Only traces with a failed call")
    if window == _DATES:
        today = datetime.date.today()
        st.date_input("Dates", value=(today - datetime.timedelta(days=7), today), key="traces_dates")
    since, until = _time_bounds(window)
    return TraceFilter(
        deployments=tuple(chosen),
        operations=tuple(operations),
        errors_only=errors_only,
        since_ns=since,
        until_ns=until,
        text=text,
    )


def render_sorting() -> tuple[str, bool, int]:
    """Sort key, descending, page size."""
    row = st.columns([2, 2, 2, 4], vertical_alignment="bottom")
    sort = row[0].selectbox("Sort by", list(SORT_LABELS), format_func=SORT_LABELS.__getitem__, key="traces_sort")
    descending = row[1].selectbox(
        "Order",
        (True, False),
        format_func=lambda d: "Highest / newest first" if d else "Lowest / oldest first",
        key="traces_desc",
    )
    size = row[2].selectbox("Rows per page", PAGE_SIZES, key="traces_page_size")
    return sort, bool(descending), int(size)


def filter_signature(where: TraceFilter, sort: str, descending: bool, size: int) -> str:
    # The time window counts by its choice, not its moving bounds, or every run would look like a new filter.
    window = st.session_state.get("traces_window"), str(st.session_state.get("traces_dates"))
    return repr((where.deployments, where.operations, where.errors_only, where.text, window, sort, descending, size))


def render_pager(total: int, size: int, signature: str) -> int:
    """The page number input (back to page 1 whenever the filter or sorting changes); returns the offset."""
    return pager.render_pager(total, size, signature, key=PAGE_KEY, noun="Traces")[0]


def _when(start_ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(start_ns / 1e9)


def _status(item: dict[str, Any]) -> str:
    status = str(item["status"])
    retries = int(item.get("retries") or 0)
    return f"{status} · {retries} {'retry' if retries == 1 else 'retries'}" if retries else status


def table_rows(items: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per trace summary, in the order given."""
    return pd.DataFrame(
        {
            "Time": [_when(item["start_ns"]) for item in items],
            "Page": [item.get("page") or "" for item in items],
            "Action": [item.get("action") or "" for item in items],
            "Deployments": [", ".join(item["deployments"]) for item in items],
            "Operation": [", ".join(item["operations"]) for item in items],
            "Status": [_status(item) for item in items],
            "Latency (s)": [round(item["latency_s"], 3) for item in items],
            "Tokens": [int(item["input_tokens"]) + int(item["output_tokens"]) for item in items],
            "Cost ($)": pd.Series([item["cost"] for item in items], dtype="float64"),  # unpriced: empty
            "Calls": [int(item["spans"]) for item in items],
        }
    )


def _on_select(key: str) -> None:
    rows = (st.session_state.get(key) or {}).get("selection", {}).get("rows", [])
    ids = st.session_state.get(_ROW_IDS) or []
    if rows and rows[0] < len(ids):
        st.query_params[QUERY_TRACE] = ids[rows[0]]
    else:
        st.query_params.pop(QUERY_TRACE, None)


def render_table(items: list[dict[str, Any]], signature: str, offset: int) -> None:
    """The page of traces; selecting a row opens that trace (its id goes into the URL as `?trace=`)."""
    st.session_state[_ROW_IDS] = [item["trace_id"] for item in items]
    # A new key for every page and filter: a selection never points at a row that now holds another trace.
    key = "traces_table_" + hashlib.sha256(f"{signature}|{offset}".encode()).hexdigest()[:12]
    st.dataframe(
        table_rows(items),
        key=key,
        on_select=lambda: _on_select(key),
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_config={
            "Time": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
            "Cost ($)": st.column_config.NumberColumn(format="%.6f"),
            "Latency (s)": st.column_config.NumberColumn(format="%.3f"),
        },
    )


def read_page(
    store: TraceStore, where: TraceFilter, sort: str, descending: bool, size: int, offset: int
) -> list[dict[str, Any]]:
    """One page of summaries (SORTS names what the store can sort by)."""
    return store.traces(where, sort=sort if sort in SORTS else "time", descending=descending, limit=size, offset=offset)
