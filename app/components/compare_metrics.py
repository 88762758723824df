"""The metrics table under the panes: last turn and whole conversation, best value per column marked with ★. In
presenter mode: the last turn's figures per pane, large (st.metric), the best marked the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import streamlit as st

from app.components import presenter
from services.compare_model import MetricsRow, Turn, best_panes, conversation_rows, last_turn_rows
from services.safe_markdown import escape_markdown

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


def _seconds(value: float | int | str | None) -> str | None:
    return f"{value:.2f} s" if isinstance(value, float | int) else None


def _speed(value: float | int | str | None) -> str | None:
    return f"{value:.0f} tokens/s" if isinstance(value, float | int) else None


def _cost(value: float | int | str | None) -> str | None:
    if not isinstance(value, float | int):
        return None
    return f"${value:.4f}" if value >= 0.0001 or not value else "< $0.0001"


# Stage figure label -> (the table column it shows, how its value is written); Tokens (in + out) comes after Speed.
_TIMES = {"First token": ("TTFT (s)", _seconds), "Total time": ("Total (s)", _seconds), "Speed": ("Tokens/s", _speed)}


def stage_figures(row: MetricsRow, best: Mapping[str, set[str]]) -> list[tuple[str, str]]:
    """(label, value) pairs of one pane's large figures, in display order (only the known ones); ★ on the best."""

    def figure(label: str, column: str, text: str | None) -> list[tuple[str, str]]:
        marked = BEST if row.pane_id in best.get(column, set()) else ""
        return [] if text is None else [(label, text + marked)]

    figures: list[tuple[str, str]] = []
    for label, (column, write) in _TIMES.items():
        figures += figure(label, column, write(row.values[column]))
    tokens_in, tokens_out = row.values["Tokens in"], row.values["Tokens out"]
    if isinstance(tokens_in, int) and isinstance(tokens_out, int):
        figures.append(("Tokens", f"{tokens_in + tokens_out:,}"))
    figures += figure("Cost", "Cost ($)", _cost(row.values["Cost ($)"]))
    return figures


def _render_on_stage(rows: Sequence[MetricsRow], names: Mapping[str, str]) -> None:
    best = best_panes(rows)
    with st.container(key="compare_metrics_stage"):
        st.markdown("**The last turn** (★ marks the best value)")
        for column, row in zip(st.columns(len(rows), gap="small"), rows, strict=True):
            with column.container(border=True):
                st.markdown(f"**{escape_markdown(names.get(row.pane_id, row.pane_id))}**")
                for label, value in stage_figures(row, best):
                    st.metric(label, value)


def render_metrics_table(
    turns: Sequence[Turn], pane_ids: Sequence[str], names: Mapping[str, str], baseline: str | None
) -> None:
    """Show both tables (on stage: the last turn's large figures); nothing until a turn has finished."""
    finished = [t for t in turns if t.replies]
    if not finished:
        return
    if presenter.is_on():
        _render_on_stage(last_turn_rows(finished, pane_ids), names)
        return
    with st.container(key="compare_metrics"):
        st.markdown("**Metrics** (★ marks the best value)")
        last, whole = st.tabs(["Last turn", "Whole conversation"])
        last.dataframe(metrics_frame(last_turn_rows(finished, pane_ids), names, baseline), hide_index=True)
        whole.dataframe(metrics_frame(conversation_rows(finished, pane_ids), names, baseline), hide_index=True)
        whole.caption("Time, tokens and cost are summed; TTFT is the mean; tokens/s is tokens out over total time.")
