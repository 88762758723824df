"""The viewer's saved evaluation runs, newest first, with status and counts; Open puts the run in the URL
(`?run=<id>`), so a reload or a shared link comes back to it. Delete asks first, and is not offered for a run this
process is running (Cancel it first)."""

from __future__ import annotations

import datetime

import streamlit as st

from app.components import eval_jobs
from services.identity import Viewer
from services.safe_markdown import escape_markdown
from services.store.evals import RunRecord

QUERY_RUN = "run"
LIMIT = 50
CONFIRM_KEY = "evals.confirm_delete"  # the run whose deletion awaits confirmation
DELETE_PROBLEM_KEY = "evals.delete_problem"  # why the last Delete did nothing, shown once
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


def _ask_delete(run_id: str | None) -> None:
    st.session_state[CONFIRM_KEY] = run_id


def _delete(run_id: str, viewer: Viewer) -> None:
    """Delete the run (the store checks the viewer owns it), unless it started running here meanwhile."""
    st.session_state[CONFIRM_KEY] = None
    if eval_jobs.is_running(run_id):
        st.session_state[DELETE_PROBLEM_KEY] = "The run is running; cancel it before deleting it."
        return
    deleted = eval_jobs.eval_store().delete_run(run_id, viewer)
    st.session_state[DELETE_PROBLEM_KEY] = None if deleted else "No run with this id was found among your runs."
    if deleted and opened_run_id() == run_id:
        open_run(None)


def _confirm(record: RunRecord, viewer: Viewer) -> None:
    box = st.container(border=True, key=f"evals_confirm_{record.id}")
    box.warning(
        f"Delete **{escape_markdown(record.name)}** with its {record.cells_done} stored cells? This cannot be undone.",
        icon=":material/delete:",
    )
    buttons = box.container(horizontal=True)
    buttons.button("Delete", key="evals_delete_confirm", type="primary", on_click=_delete, args=(record.id, viewer))
    buttons.button("Keep", key="evals_delete_keep", on_click=_ask_delete, args=(None,))


def render_runs_list(viewer: Viewer, opened: str | None) -> None:
    """Draw the viewer's runs, each with Open and Delete (the opened one marked; Delete asks first)."""
    message = st.session_state.pop(DELETE_PROBLEM_KEY, None)
    if message:
        st.error(message, icon=":material/error:")
    runs = eval_jobs.eval_store().runs_for(viewer, limit=LIMIT)
    if not runs:
        st.caption("No evaluation runs yet.")
        return
    confirming = st.session_state.get(CONFIRM_KEY)
    for record in runs:
        running = eval_jobs.is_running(record.id)
        row = st.container(horizontal=True, vertical_alignment="center", key=f"evals_run_row_{record.id}")
        row.markdown(describe(record), width="stretch")
        row.button(
            "Opened" if record.id == opened else "Open",
            key=f"evals_open_{record.id}",
            disabled=record.id == opened,
            on_click=open_run,
            args=(record.id,),
        )
        row.button(
            "Delete",
            key=f"evals_delete_{record.id}",
            icon=":material/delete:",
            disabled=running,
            help="Cancel the run before deleting it." if running else "Delete the run and its results (asks first).",
            on_click=_ask_delete,
            args=(record.id,),
        )
        if record.id == confirming and not running:
            _confirm(record, viewer)
