"""The metrics table under the panes: last turn and whole conversation, best value per column marked with ★."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from services.compare_model import MetricsRow, Turn, best_panes, conversation_rows, last_turn_rows

BEST = " ★"


def _cell(value: float | int | str | None, column: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if column.startswith("Cost"):
            return f"{value:.6f}".rstrip("0").rstrip(".") or "0"
        return f"{value:.2f}"
    return str(value)


def metrics_frame(rows: Sequence[MetricsRow], names: Mapping[str, str], baseline: str | None = None) -> pd.DataFrame:
    """A display table (strings) with ★ on the best value of each column, and total time relative to the baseline."""
    best = best_panes(rows)
    base_total = next((r.values["Total (s)"] for r in rows if r.pane_id == baseline), None)
    records = []
    for row in rows:
        record = {"Pane": names.get(row.pane_id, row.pane_id)}
        for column, value in row.values.items():
            record[column] = _cell(value, column) + (BEST if row.pane_id in best.get(column, set()) else "")
        total = row.values["Total (s)"]
        if baseline is not None:
            known = isinstance(base_total, float | int) and base_total and isinstance(total, float | int)
            record["vs baseline"] = f"×{total / base_total:.2f}" if known else "–"  # type: ignore[operator]
        records.append(record)
    return pd.DataFrame.from_records(records)


def render_metrics_table(
    turns: Sequence[Turn], pane_ids: Sequence[str], names: Mapping[str, str], baseline: str | None
) -> None:
    """Show both tables; nothing until a turn has finished."""
    finished = [t for t in turns if t.replies]
    if not finished:
        return
    with st.container(key="compare_metrics"):
        st.markdown("**Metrics** (★ marks the best value)")
        last, whole = st.tabs(["Last turn", "Whole conversation"])
        last.dataframe(metrics_frame(last_turn_rows(finished, pane_ids), names, baseline), hide_index=True)
        whole.dataframe(metrics_frame(conversation_rows(finished, pane_ids), names, baseline), hide_index=True)
        whole.caption("Time, tokens and cost are summed; TTFT is the mean; tokens/s is tokens out over total time.")
