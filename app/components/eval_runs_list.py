"""The viewer's saved evaluation runs, newest first, with status and counts; Open puts the run in the URL
(`?run=<id>`), so a reload or a shared link comes back to it."""

from __future__ import annotations

import datetime

import streamlit as st

from app.components import eval_jobs
from services.identity import Viewer
from services.safe_markdown import escape_markdown
from services.store.evals import RunRecord

QUERY_RUN = "run"
LIMIT = 50
STATUS_ICONS = {
    "running": ":material/progress_activity:",
    "finished": ":material/check_circle:",
    "cancelled": ":material/cancel:",
    "interrupted": ":material/pause_circle:",
}


def opened_run_id() -> str | None:
    """The run the URL opens, if any."""
    return st.query_params.get(QUERY_RUN) or None


def open_run(run_id: str | None) -> None:
    """Open a run (None: back to defining a new one), keeping it in the URL."""
    if run_id is None:
        st.query_params.pop(QUERY_RUN, None)
    else:
        st.query_params[QUERY_RUN] = run_id


def _status(record: RunRecord) -> str:
    # The store calls a run whose runner is quiet for long "interrupted"; one running in this process is not.
    return "running" if eval_jobs.is_running(record.id) else record.status


def describe(record: RunRecord) -> str:
    """One line about a run: status, name, when, deployments and counts (names shown as text, never markdown)."""
    status = _status(record)
    when = datetime.datetime.fromtimestamp(record.created).strftime("%Y-%m-%d %H:%M")
    counts = (
        f"{record.cells_done}/{record.total_cells} cells · {record.cells_errors} errors · {record.cells_failed} failed"
    )
    return (
        f"{STATUS_ICONS.get(status, '')} **{escape_markdown(record.name)}** · {status} · {when} · "
        f"{escape_markdown(', '.join(record.deployments))} · {counts}"
    )


def render_runs_list(viewer: Viewer, opened: str | None) -> None:
    """Draw the viewer's runs, each with Open (the opened one marked)."""
    runs = eval_jobs.eval_store().runs_for(viewer, limit=LIMIT)
    if not runs:
        st.caption("No evaluation runs yet.")
        return
    for record in runs:
        row = st.container(horizontal=True, vertical_alignment="center", key=f"evals_run_row_{record.id}")
        row.markdown(describe(record), width="stretch")
        row.button(
            "Opened" if record.id == opened else "Open",
            key=f"evals_open_{record.id}",
            disabled=record.id == opened,
            on_click=open_run,
            args=(record.id,),
        )
