"""Totals of the filtered traces per deployment: calls, errors, retried attempts, tokens and cost, with a chart."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.components.trace_detail import chart_text


def totals_frame(totals: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per deployment, as the table shows it."""
    return pd.DataFrame(
        {
            "Deployment": [row["deployment"] for row in totals],
            "Calls": [int(row["calls"]) for row in totals],
            "Errors": [int(row["errors"] or 0) for row in totals],
            "Retried": [int(row["retries"] or 0) for row in totals],
            "Input tokens": [int(row["input_tokens"] or 0) for row in totals],
            "Output tokens": [int(row["output_tokens"] or 0) for row in totals],
            "Cost ($)": [row["cost"] for row in totals],
        }
    )


def totals_figure(totals: list[dict[str, Any]]) -> go.Figure:
    """Calls per deployment as stacked bars: answered, retried attempts, errors."""
    names = [chart_text(str(row["deployment"])) for row in totals]
    errors = [int(row["errors"] or 0) for row in totals]
    retried = [int(row["retries"] or 0) for row in totals]
    answered = [int(row["calls"]) - e - r for row, e, r in zip(totals, errors, retried, strict=True)]
    figure = go.Figure()
    for label, values, colour in (
        ("answered", answered, "#2e7d32"),
        ("retried attempts", retried, "#ef6c00"),
        ("errors", errors, "#c62828"),
    ):
        figure.add_trace(go.Bar(name=label, y=names, x=values, orientation="h", marker_color=colour))
    figure.update_layout(
        barmode="stack",
        height=min(140 + 34 * len(names), 400),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis_title="calls",
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return figure


def render_totals(totals: list[dict[str, Any]]) -> None:
    """The chart and the table (nothing when the filter selects no call)."""
    if not totals:
        return
    chart, table = st.columns([1, 1.4])
    chart.plotly_chart(totals_figure(totals), key="traces_totals_chart")
    table.dataframe(
        totals_frame(totals),
        hide_index=True,
        column_config={"Cost ($)": st.column_config.NumberColumn(format="%.6f")},
    )
