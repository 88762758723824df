"""Evaluations: one prompt over every row of a dataset on one to six deployments, each answer judged by evaluators.

A run is defined here (prompt, dataset, deployments with overrides, evaluators), checked before anything is sent,
and runs in the background of this process (app/components/eval_jobs.py), so it survives a reload or a visit to
another page. The viewer's saved runs are listed; the opened one is in the URL (`?run=<id>`).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.auth import current_viewer
from app.components import eval_form, eval_jobs
from app.components.eval_define import render_define
from app.components.eval_progress import render_progress
from app.components.eval_runs_list import describe, open_run, opened_run_id, render_runs_list
from services.safe_markdown import escape_markdown
from services.store.evals import EvalStore

FALLBACK_ROWS = 100


def _render_results_fallback(store: EvalStore, run_id: str) -> None:
    """A plain matrix of the run's first rows: one column per deployment, the answer (or error) and its checks."""
    record = store.load_run(run_id)
    if record is None:
        return
    indices = store.row_indices(run_id, limit=FALLBACK_ROWS)
    if not indices:
        st.caption("No cell has finished yet.")
        return
    rows = dict(zip(indices, store.rows(run_id, indices=indices), strict=True))
    cells = store.cells(run_id, row_indices=indices, limit=FALLBACK_ROWS * len(record.deployments))
    table: dict[int, dict[str, str]] = {i: {"row": str(i + 1), **rows[i]} for i in indices}
    for cell in cells:
        mark = {True: "pass ·", False: "fail ·", None: ""}[cell.passed]
        text = cell.answer if cell.ok else f"⚠ {cell.error}"
        table[cell.row_index][cell.deployment] = f"{mark} {text or ''}".strip()
    frame = pd.DataFrame(list(table.values())).fillna("").map(lambda v: escape_markdown(str(v)))
    st.table(frame, hide_index=True)


def _render_opened(run_id: str) -> None:
    store = eval_jobs.eval_store()
    record = store.load_run(run_id, current_viewer())
    if record is None:
        st.warning("No run with this id was found among your runs.", icon=":material/search_off:")
        st.button("Define a new run", key="evals_new", on_click=open_run, args=(None,))
        return
    st.markdown(describe(record))
    render_progress(record)
    _render_results_fallback(store, record.id)
    st.button("Define a new run", key="evals_new", on_click=open_run, args=(None,), icon=":material/add:")


def render() -> None:
    """The Evaluations page."""
    eval_form.remember()
    st.title("Evaluations")
    opened = opened_run_id()
    if opened is not None:
        _render_opened(opened)
    else:
        started = render_define()
        if started is not None:
            open_run(started)
            st.rerun()
    with st.expander("Saved runs", expanded=opened is None):
        render_runs_list(current_viewer(), opened)
