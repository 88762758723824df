"""Traces: every recorded call, filtered, sorted and paged; one trace opened with its timeline, requests and answers.

Reads the trace store (services.store.traces) one page at a time, after waiting briefly for the recorder to
write what was just sent. `?trace=<id>` opens one trace, so a metrics line can link to it.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from app import run_slots
from app.auth import current_viewer
from app.components import presenter
from app.components.compare_handoff import switch_to_chat_if_requested, switch_to_compare_if_requested
from app.components.trace_actions import render_actions
from app.components.trace_detail import render_summary, render_trace
from app.components.trace_export import render_export
from app.components.trace_links import QUERY_TRACE, is_trace_id
from app.components.trace_table import (
    filter_signature,
    read_page,
    render_filters,
    render_pager,
    render_sorting,
    render_table,
)
from app.components.trace_totals import render_totals
from services import tracing
from services.identity import Viewer
from services.safe_markdown import code_span, escape_markdown
from services.store.traces import TraceFilter, TraceStore, TraceStoreError

FLUSH_WAIT_S = 2.0


def open_store() -> TraceStore:
    """The store the recorder writes (PLAYGROUND_DATABASE_URL, or traces.sqlite under PLAYGROUND_DATA_DIR)."""
    return TraceStore()


@st.cache_data(show_spinner=False, max_entries=8)
def _deployment_names(where: str, version: tuple[object, ...]) -> list[str]:
    # `where` (the store, without a password) and `version` are the cache key.
    return open_store().deployments()


def _deployments(store: TraceStore, traces: int) -> list[str]:
    """The filter's choices: a scan of every span, so read again only when a trace was added or the newest one grew
    (a compare run's panes join its trace one by one)."""
    newest = store.traces(limit=1)
    version = (traces, newest[0]["trace_id"], newest[0]["spans"]) if newest else (traces,)
    return _deployment_names(store.where, version)


def _store_error(err: Exception) -> None:
    st.error(f"The trace store cannot be read: {escape_markdown(str(err))}")


def _close() -> None:
    st.query_params.pop(QUERY_TRACE, None)


def _render_opened(store: TraceStore, wanted: str, viewer: Viewer) -> None:
    """The trace named in the URL: its details and actions, or why it cannot be shown."""
    if not is_trace_id(wanted):
        # Anything could be in the URL: a bad id is not repeated on the page.
        st.warning("The link does not name a trace (its `trace` is not a trace id).")
        return
    spans = store.spans(wanted)
    # Another account's trace reads as missing: a link does not tell whether it exists.
    if not spans or not viewer.can_read(spans[0].get("owner")):
        st.warning(f"No trace {code_span(wanted)} in the store: it may have been removed by the retention settings.")
        return
    head = st.container(horizontal=True, vertical_alignment="center")
    head.subheader("Trace", anchor=False)
    head.button("Close", key="traces_close", icon=":material/close:", on_click=_close)
    render_summary(spans)
    render_actions(spans)
    render_trace(spans)


def _render_empty() -> None:
    off = tracing.recorder() is None
    st.info(
        "No calls recorded yet. Send a message on the Chat page (or run a comparison or an embedding job) and every "
        "call it makes appears here, with its request, answer, timings, tokens and cost."
        + (" Recording is off now (PLAYGROUND_TRACE=off): nothing new is recorded." if off else "")
    )
    st.page_link(st.Page(lambda: None, title="Chat", url_path="chat"), label="Go to Chat", icon=":material/chat:")


def render() -> None:
    """The Traces page."""
    switch_to_chat_if_requested()
    switch_to_compare_if_requested()
    st.title("Traces")
    if presenter.render_backstage_notice("Traces"):
        return
    # A call that just finished may still be on the recorder's queue: wait a little for it to be written (other
    # sessions' pages run meanwhile).
    with run_slots.released():
        tracing.flush(timeout=FLUSH_WAIT_S)
    store = open_store()
    wanted = st.query_params.get(QUERY_TRACE)
    viewer = current_viewer()
    # With sign-in on, a user's traces are the calls they made; an admin (and everyone with sign-in off) sees all.
    owner = None if viewer.sees_all else viewer.owner
    try:
        total = store.count(TraceFilter(owner=owner))
        if total == 0 and not wanted:
            _render_empty()
            return
        if tracing.recorder() is None:
            st.caption("Recording is off (PLAYGROUND_TRACE=off): these are the calls recorded before it was.")
        where = dataclasses.replace(render_filters(_deployments(store, total)), owner=owner)
        sort, descending, size = render_sorting()
        signature = filter_signature(where, sort, descending, size)
        matching = store.count(where)
        offset = render_pager(matching, size, signature)
        items = read_page(store, where, sort, descending, size, offset)
        if items:
            render_table(items, signature, offset)
        else:
            st.info("No trace matches this filter.")
        render_export(store, where, matching)
        if wanted:
            _render_opened(store, wanted, viewer)
        elif items:
            st.caption("Select a row to open its trace.")
        # Totals read every span of the filter: worked out only while their expander is open.
        totals = st.expander("Totals per deployment", expanded=True, key="traces_totals_open", on_change="rerun")
        if totals.open:
            with totals:
                render_totals(store.totals(where))
    except TraceStoreError as err:
        _store_error(err)
