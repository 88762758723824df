"""An opened evaluation run's results: the summary per deployment with a chart of pass rates, the matrix of rows x
deployments (app.components.eval_results_matrix), another run compared (app.components.eval_results_compare) and the
exports. The page checks the viewer may read the run before it calls render_results."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components.eval_results_compare import render_compare
from app.components.eval_results_matrix import render_matrix
from app.components.trace_detail import chart_text
from services.error_words import plain
from services.eval_export import to_csv, to_html, to_jsonl
from services.eval_figures import ALL_CHECKS, evaluator_columns, summary_records
from services.store.eval_summary import DeploymentSummary
from services.store.evals import EvalStore, RunRecord

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
EXPORTS = (
    ("CSV", "csv", "text/csv", to_csv),
    ("JSONL", "jsonl", "application/x-ndjson", to_jsonl),
    ("HTML report", "html", "text/html", to_html),
)


def summary_frame(record: RunRecord, summaries: Sequence[DeploymentSummary]) -> pd.DataFrame:
    """The summary table: one line per deployment (numbers, None where unknown)."""
    return pd.DataFrame.from_records(summary_records(record, summaries))


def _column_config(frame: pd.DataFrame) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for column in frame.columns:
        if column.endswith("%"):
            config[column] = st.column_config.NumberColumn(format="%.1f%%")
        elif column.startswith("Cost"):
            config[column] = st.column_config.NumberColumn(format="%.6f")
        elif "latency" in column:
            config[column] = st.column_config.NumberColumn(format="%.3f")
        elif "score" in column:
            config[column] = st.column_config.NumberColumn(format="%.2f")
    return config


def rates_figure(record: RunRecord, summaries: Sequence[DeploymentSummary]) -> go.Figure | None:
    """Grouped bars: pass rate (%) per deployment, one bar per check ("all checks" and each pass/fail evaluator);
    None when nothing was judged yet."""
    records = summary_records(record, summaries)
    checks = [f"{ALL_CHECKS} pass %"]
    checks += [column for _, kind, column in evaluator_columns(record, summaries) if kind == "rate"]
    if not any(item[column] is not None for item in records for column in checks):
        return None
    names = [chart_text(item["Deployment"]) for item in records]
    figure = go.Figure()
    for column in checks:
        values = [item[column] for item in records]
        figure.add_trace(go.Bar(name=chart_text(column.removesuffix(" pass %")), x=names, y=values))
    figure.update_layout(
        barmode="group",
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        yaxis={"title": "pass rate (%)", "range": [0, 100]},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return figure


def progress_line(record: RunRecord) -> str:
    """The run in one line: status, cells stored of all, errors and failed checks."""
    return (
        f"{record.status.capitalize()} · {record.cells_done:,} of {record.total_cells:,} cells · "
        f"{record.cells_errors:,} errors (no answer) · {record.cells_failed:,} with a failed check · "
        f"dataset {plain(record.dataset_name)} ({record.row_count:,} rows)"
    )


def render_summary(record: RunRecord, summaries: Sequence[DeploymentSummary]) -> None:
    """The per-deployment table and the chart of pass rates."""
    st.caption(progress_line(record))
    frame = summary_frame(record, summaries)
    st.dataframe(frame, hide_index=True, key="evres_summary", column_config=_column_config(frame))
    st.caption(
        "Errors are calls that gave no answer, counted apart from failures (answers a check failed); pass rates, "
        "scores and latency count answered cells only."
    )
    figure = rates_figure(record, summaries)
    if figure is not None:
        st.plotly_chart(figure, key="evres_rates_chart")


def file_stem(record: RunRecord) -> str:
    """A safe file name for the run's exports (letters, digits, dot, dash, underscore)."""
    return _UNSAFE_FILE_CHARS.sub("-", record.name).strip("-.")[:60] or "evaluation"


def render_exports(store: EvalStore, record: RunRecord) -> None:
    """CSV, JSONL and HTML downloads; each file is made when its button is clicked (read from the store then)."""
    columns = st.columns(len(EXPORTS))
    for column, (label, extension, mime, export) in zip(columns, EXPORTS, strict=True):
        column.download_button(
            f"Download {label}",
            data=functools.partial(export, store, record.id),
            file_name=f"{file_stem(record)}.{extension}",
            mime=mime,
            on_click="ignore",
            key=f"evres_export_{extension}",
            width="stretch",
        )
    st.caption("CSV and JSONL hold one record per stored cell; the HTML report is one file that loads nothing.")


def render_results(store: EvalStore, run_id: str) -> None:
    """The results of the run `run_id` (the page has checked the viewer may read it)."""
    record = store.load_run(run_id)
    if record is None:
        st.info("This run is no longer there.")
        return
    summaries = store.summary(run_id)
    summary, matrix, compare, exports = st.tabs(["Summary", "Rows × deployments", "Compare runs", "Export"])
    with summary:
        render_summary(record, summaries)
    with matrix:
        render_matrix(store, record)
    with compare:
        render_compare(store, record, summaries)
    with exports:
        render_exports(store, record)
