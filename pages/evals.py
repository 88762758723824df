"""Evaluations: one prompt over every row of a dataset on one to six deployments, each answer judged by evaluators.

A run is defined here (prompt, dataset, deployments with overrides, evaluators), checked before anything is sent,
and runs in the background of this process (app/components/eval_jobs.py), so it survives a reload or a visit to
another page. The viewer's saved runs are listed; the opened one is in the URL (`?run=<id>`).
"""

from __future__ import annotations

import streamlit as st

from app.auth import current_viewer
from app.components import eval_form, eval_jobs, presenter
from app.components.eval_define import render_define
from app.components.eval_progress import render_progress
from app.components.eval_results import render_results
from app.components.eval_runs_list import describe, open_run, opened_run_id, render_runs_list


def _render_opened(run_id: str) -> None:
    store = eval_jobs.eval_store()
    record = store.load_run(run_id, current_viewer())
    if record is None:
        st.warning("No run with this id was found among your runs.", icon=":material/search_off:")
        st.button("Define a new run", key="evals_new", on_click=open_run, args=(None,))
        return
    st.markdown(describe(record))
    render_progress(record)
    st.button("Define a new run", key="evals_new", on_click=open_run, args=(None,), icon=":material/add:")
    render_results(store, record.id)


def render() -> None:
    """The Evaluations page."""
    eval_form.remember()
    st.title("Evaluations")
    if presenter.render_backstage_notice("Evaluations"):
        return
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
