"""An evaluation run's matrix: dataset rows down, deployments across, one page of rows at a time, narrowed to the
rows with a failure, an error or a disagreement; below it, the whole of each call of one picked row.

Answers, rows and errors are untrusted text: the table shows them as plain text (a dataframe renders no markdown),
the details as code blocks and through services.safe_markdown, so nothing in an answer can load, run or hide a link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pandas as pd
import streamlit as st

from app.components.pager import render_pager
from app.components.safe_markdown import untrusted_markdown
from app.components.trace_links import is_trace_id, trace_url
from services.eval_matrix import MatrixRow, cell_figures, cell_mark, matrix_rows, shorten, verdict_mark
from services.eval_model import CellResult
from services.store.eval_filter import CellFilter
from services.store.evals import EvalStore, RunRecord

PAGE_ROWS = 25
ANSWER_CHARS = 120
VALUE_CHARS = 80
SHOW = {
    "all": "All rows",
    "failures": "Failures",
    "errors": "Errors",
    "disagreements": "Disagreements",
}
SHOW_HELP = (
    "Failures: rows where a check failed on some deployment. Errors: rows where a call gave no answer. "
    "Disagreements: rows where one deployment passed and another failed. Every deployment's cell of such a row is "
    "shown."
)
SHOW_KEY = "evres_show"
PAGE_KEY = "evres_page"
DETAIL_KEY = "evres_detail_row"
_ROW_INDICES = "evres_row_indices"


def _pager(total: int, signature: str) -> int:
    """The page number input (back to page 1, details closed, when the run or the filter changes); the offset."""
    offset, changed = render_pager(total, PAGE_ROWS, signature, key=PAGE_KEY, noun="Rows")
    if changed:
        st.session_state.pop(DETAIL_KEY, None)
    return offset


def answer_text(cell: CellResult | None) -> str:
    """What the matrix shows of a cell: its mark and the answer (or the error) on one short line."""
    if cell is None:
        return "… not run yet"
    if not cell.ok:
        return shorten(f"{cell_mark(cell)} {cell.error_type or 'error'}: {cell.error or ''}", ANSWER_CHARS)
    return shorten(f"{cell_mark(cell)} {cell.answer or ''}", ANSWER_CHARS)


def checks_text(cell: CellResult | None) -> str:
    """Each evaluator's mark, then latency and tokens ("has-city ✓ · close 0.82 · 0.42 s · 57 tok")."""
    if cell is None:
        return ""
    parts = [f"{verdict.evaluator} {verdict_mark(verdict)}" for verdict in cell.verdicts]
    figures = cell_figures(cell)
    return " · ".join([*parts, figures] if figures else parts)


def matrix_columns(record: RunRecord, columns: Sequence[str]) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The table's header for the dataset's columns (renamed "row: x" when a deployment's column has that name) and
    for each deployment (answer, checks, trace)."""
    per_deployment = {name: (name, f"{name} · checks", f"{name} · trace") for name in record.deployments}
    taken = {"#", *(label for labels in per_deployment.values() for label in labels)}
    values = {name: f"row: {name}" if name in taken else name for name in columns}
    return values, per_deployment


def matrix_frame(record: RunRecord, rows: Sequence[MatrixRow], columns: Sequence[str]) -> pd.DataFrame:
    """One line per dataset row: its number and values, then per deployment the answer, the checks and the trace
    link (None when the call has no trace)."""
    values, per_deployment = matrix_columns(record, columns)
    data: dict[str, list[Any]] = {"#": [row.index + 1 for row in rows]}
    for name, label in values.items():
        data[label] = [shorten(str(row.values.get(name, "")), VALUE_CHARS) for row in rows]
    for deployment, (answer, checks, trace) in per_deployment.items():
        cells = [row.cells.get(deployment) for row in rows]
        data[answer] = [answer_text(cell) for cell in cells]
        data[checks] = [checks_text(cell) for cell in cells]
        data[trace] = [trace_url(c.trace_id) if c is not None and is_trace_id(c.trace_id) else None for c in cells]
    return pd.DataFrame(data)


def _on_select(key: str) -> None:
    picked = (st.session_state.get(key) or {}).get("selection", {}).get("rows", [])
    indices = st.session_state.get(_ROW_INDICES) or []
    if picked and picked[0] < len(indices):
        st.session_state[DETAIL_KEY] = indices[picked[0]]


def render_matrix(store: EvalStore, record: RunRecord) -> None:
    """The filter, the pager, one page of rows and the details of the picked row."""
    show = st.radio("Show", list(SHOW), format_func=SHOW.__getitem__, horizontal=True, key=SHOW_KEY, help=SHOW_HELP)
    where = CellFilter.show(str(show))
    total = store.count_rows(record.id, where) if show != "all" else record.row_count
    signature = f"{record.id}|{show}"
    offset = _pager(total, signature)
    if show == "all":
        indices: Sequence[int] = range(offset, min(offset + PAGE_ROWS, total))
    else:
        indices = store.row_indices(record.id, where, limit=PAGE_ROWS, offset=offset)
    rows = matrix_rows(store, record.id, indices)
    if not rows:
        st.info("No row to show." if show == "all" else f"No row has {SHOW[str(show)].lower()} (yet).")
        return
    st.session_state[_ROW_INDICES] = [row.index for row in rows]
    _, per_deployment = matrix_columns(record, [])
    links = {
        trace: st.column_config.LinkColumn(trace, display_text="open trace", width="small")
        for _, _, trace in per_deployment.values()
    }
    # A new key per page and filter: a selection never points at a row that now holds another.
    key = "evres_matrix_" + hashlib.sha256(f"{signature}|{offset}".encode()).hexdigest()[:12]
    st.dataframe(
        matrix_frame(record, rows, list(dict.fromkeys(name for row in rows for name in row.values))),
        key=key,
        on_select=lambda: _on_select(key),
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_config={"#": st.column_config.NumberColumn(width="small"), **links},
    )
    st.caption("✓ every check passed · ✗ a check failed · ⚠ no answer (error) · – no pass/fail check · … not run yet")
    render_row_details(record, rows)


def render_row_details(record: RunRecord, rows: Sequence[MatrixRow]) -> None:
    """A picker of this page's rows (a click on a table row picks it too); the picked row's every call in full."""
    by_index = {row.index: row for row in rows}
    if st.session_state.get(DETAIL_KEY) not in by_index:
        st.session_state[DETAIL_KEY] = None
    picked = st.selectbox(
        "Whole answers of a row",
        list(by_index),
        format_func=lambda index: f"Row {index + 1}",
        index=None,
        placeholder="Pick a row (or click it in the table)",
        key=DETAIL_KEY,
    )
    if picked is None:
        return
    row = by_index[int(picked)]
    st.dataframe(
        pd.DataFrame({"Column": list(row.values), "Value": [str(v) for v in row.values.values()]}),
        hide_index=True,
        key=f"evres_row_values_{row.index}",
    )
    for deployment in record.deployments:
        cell = row.cells.get(deployment)
        with st.expander(f"{deployment} · {cell_mark(cell)}", expanded=len(record.deployments) <= 3):
            render_cell(cell, key=f"{row.index}_{deployment}")


def render_cell(cell: CellResult | None, *, key: str) -> None:
    """One call in full: the error's words or the whole answer as plain text, every verdict with its reason, the
    figures and the link to its trace."""
    if cell is None:
        st.caption("Not run yet.")
        return
    if not cell.ok:
        with st.container(border=True, key=f"evres_error_{key}"):
            st.markdown(f"**:red[No answer]** ({cell.error_type or 'error'})")
            st.markdown(untrusted_markdown(cell.error or ""))
    else:
        st.code(cell.answer or "", language=None, wrap_lines=True)
    if cell.verdicts:
        st.dataframe(
            pd.DataFrame(
                {
                    "Evaluator": [v.evaluator for v in cell.verdicts],
                    "Result": [verdict_mark(v) for v in cell.verdicts],
                    "Score": pd.Series([v.score for v in cell.verdicts], dtype="float64"),
                    "Reason": [v.reason for v in cell.verdicts],
                }
            ),
            hide_index=True,
            key=f"evres_verdicts_{key}",
        )
    figures = [cell_figures(cell)] if cell_figures(cell) else []
    if cell.cost is not None:
        figures.append("cost \\$" + (f"{cell.cost:.6f}".rstrip("0").rstrip(".") or "0"))  # a bare $ starts math
    if is_trace_id(cell.trace_id):
        figures.append(f"[Open its trace]({trace_url(str(cell.trace_id))})")
    if figures:
        st.caption(" · ".join(figures))
