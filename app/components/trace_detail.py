"""One trace opened: its calls as a timeline, each call's request and answer as stored, and the error card shown."""

from __future__ import annotations

import datetime
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app.components.error_card import plain, render_error, render_filtered_answer
from app.components.trace_errors import error_from_detail, loads
from services.safe_markdown import code_span

STATUS_COLOURS = {"ok": "#2e7d32", "error": "#c62828", "retried": "#ef6c00", "stopped": "#757575"}
# A long embedding job has hundreds of batches: the timeline shows them all, the details only the first ones.
MAX_SPAN_DETAILS = 40


def span_label(span: dict[str, Any]) -> str:
    """ "phi-4 · chat · attempt 2": what the timeline and the details call one span (plain text)."""
    return f"{span.get('deployment')} · {span.get('operation')} · attempt {span.get('attempt') or 1}"


def chart_text(text: str) -> str:
    """Text for a plotly label: plotly reads a few HTML tags (links among them) in labels, so none may form."""
    return text.replace("<", "‹").replace(">", "›")


def timeline_figure(spans: list[dict[str, Any]]) -> go.Figure:
    """One horizontal bar per span (per attempt), from its start to its end in ms after the trace began."""
    start = min(int(span["start_ns"]) for span in spans)
    figure = go.Figure()
    labels = [chart_text(f"{index + 1}. {span_label(span)}") for index, span in enumerate(spans)]
    for status, colour in STATUS_COLOURS.items():
        chosen = [index for index, span in enumerate(spans) if span.get("status") == status]
        if not chosen:
            continue
        figure.add_trace(
            go.Bar(
                name=status,
                orientation="h",
                y=[labels[index] for index in chosen],
                base=[(int(spans[index]["start_ns"]) - start) / 1e6 for index in chosen],
                x=[max((int(spans[index]["end_ns"]) - int(spans[index]["start_ns"])) / 1e6, 0.5) for index in chosen],
                marker_color=colour,
                hovertemplate="%{y}<br>start %{base:.0f} ms, %{x:.0f} ms<extra>" + status + "</extra>",
            )
        )
    figure.update_layout(
        barmode="overlay",
        height=min(140 + 28 * len(spans), 600),
        margin={"l": 10, "r": 10, "t": 30, "b": 40},
        xaxis_title="ms since the trace started",
        yaxis={"autorange": "reversed", "categoryorder": "array", "categoryarray": labels},
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return figure


def _facts(span: dict[str, Any]) -> str:
    """The span's measurements and routing in one line (every value from the store shown as code)."""
    parts = [f"HTTP {span['http_status']}" if span.get("http_status") else "no HTTP answer"]
    for label, name in (("host", "host"), ("api", "api"), ("route", "route"), ("request id", "request_id")):
        if span.get(name):
            parts.append(f"{label} {code_span(str(span[name]))}")
    models = [str(span.get(name)) for name in ("request_model", "response_model") if span.get(name)]
    if models:
        parts.append("model " + " → ".join(code_span(name) for name in dict.fromkeys(models)))
    if span.get("ttft_s") is not None:
        parts.append(f"first token {float(span['ttft_s']):.2f} s")
    parts.append(f"total {float(span.get('total_s') or 0.0):.2f} s")
    if span.get("input_tokens") is not None:
        parts.append(f"{span['input_tokens']} in + {span.get('output_tokens') or 0} out tokens")
    if span.get("cost") is not None:
        parts.append(f"cost ${float(span['cost']):.6f}")
    if span.get("finish_reason"):
        parts.append(f"finish {code_span(str(span['finish_reason']))}")
    return " · ".join(parts)


def _when(start_ns: int) -> str:
    return datetime.datetime.fromtimestamp(start_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def render_span(span: dict[str, Any], index: int, *, only: bool = False) -> None:
    """One span: its facts, the error card (or the retry it led to), and its request and answer as JSON. The only
    span of a trace, and one that failed or was stopped, starts open."""
    status = str(span.get("status") or "")
    # Expander labels are markdown: the deployment's name is made inert like any text from the store.
    label = plain(f"{index + 1}. {span_label(span)} · {status}")
    with st.expander(label, expanded=only or status in ("error", "stopped")):
        st.caption(_facts(span))
        error = error_from_detail(loads(span.get("error_detail")), str(span.get("deployment") or ""))
        if status == "retried":
            wait = float(span.get("retry_wait_s") or 0.0)
            st.caption(f":orange[Sent again after {wait:.1f} s:] {plain(span.get('error') or 'the attempt failed')}")
        elif error is not None:
            render_error(error, key=f"trace_{span['span_id']}")
        elif span.get("error"):
            st.caption(plain(span["error"]))
        answer = loads(span.get("answer"))
        if status == "stopped":
            st.caption(":orange[■ stopped: the answer is partial]")
        if isinstance(answer, dict) and answer.get("content_filtered"):
            render_filtered_answer(answer.get("content_filter_results"), key=f"trace_{span['span_id']}")
        request_tab, answer_tab = st.tabs(["Request (as sent)", "Answer (as received)"])
        with request_tab:
            request = loads(span.get("request"))
            if request is None:
                st.caption("No request body (a GET).")
            else:
                st.json(request, expanded=3)
        with answer_tab:
            if answer is None:
                st.caption("No answer arrived.")
            else:
                st.json(answer, expanded=3)


def render_summary(spans: list[dict[str, Any]]) -> None:
    """One line about the whole trace: its id, what was done where, when, how long, how many calls failed."""
    first = spans[0]
    start = min(int(span["start_ns"]) for span in spans)
    end = max(int(span["end_ns"]) for span in spans)
    errors = sum(span.get("status") == "error" for span in spans)
    st.caption(
        f"Trace {code_span(str(first['trace_id']))} · {plain(first.get('action') or 'call')} on the "
        f"{plain(first.get('page') or '?')} page · {_when(start)} · {(end - start) / 1e9:.2f} s · "
        f"{len(spans)} {'call' if len(spans) == 1 else 'calls'}" + (f" · :red[{errors} failed]" if errors else "")
    )


def render_trace(spans: list[dict[str, Any]]) -> None:
    """The opened trace's timeline, then each span (the first MAX_SPAN_DETAILS)."""
    st.plotly_chart(timeline_figure(spans), key="trace_timeline")
    for index, span in enumerate(spans[:MAX_SPAN_DETAILS]):
        render_span(span, index, only=len(spans) == 1)
    if len(spans) > MAX_SPAN_DETAILS:
        st.caption(f"The first {MAX_SPAN_DETAILS} of {len(spans)} calls are shown; the export holds them all.")
