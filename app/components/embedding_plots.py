"""Plotly figures for the embeddings page: the 2D / 3D scatter and the cosine-similarity heatmap."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

# Distinct hues for up to 10 groups (Streamlit's theme palette repeats shades of blue), then a 26-colour set.
PALETTE = qualitative.Plotly
LARGE_PALETTE = qualitative.Alphabet
# Above this many points the 2D scatter uses WebGL (Scattergl): SVG becomes slow past a few thousand markers.
WEBGL_FROM = 2000
HOVER_CHARS = 160
HIGHLIGHT_NAME = "search results"
QUERY_NAME = "query"


def short(text: str, limit: int = HOVER_CHARS, *, escape: bool = True) -> str:
    """One line of at most `limit` characters, HTML-escaped for plotly hover labels unless `escape` is False."""
    text = " ".join(text.split())
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return html.escape(text) if escape else text


def scatter_figure(
    coords: np.ndarray,
    texts: Sequence[str],
    groups: Sequence[str] | None,
    *,
    highlight: Sequence[int] = (),
    highlight_scores: Sequence[float] = (),
    title: str = "",
    height: int = 560,
) -> go.Figure:
    """One marker per row of `coords` (2 or 3 columns), one trace per group (the legend), the highlighted rows on top.

    Hover shows the text, its group and its row number.
    """
    dims = coords.shape[1]
    n = coords.shape[0]
    group_of = np.asarray(list(groups) if groups is not None else ["all"] * n, dtype=object)
    hover = np.asarray([f"#{i} · {short(t)}" for i, t in enumerate(texts)], dtype=object)
    figure = go.Figure()
    size = 4 if n > WEBGL_FROM else 7
    names = sorted(set(group_of.tolist()), key=_natural)
    palette = PALETTE if len(names) <= len(PALETTE) else LARGE_PALETTE
    for number, group in enumerate(names):
        rows = np.flatnonzero(group_of == group)
        style = {"size": size if dims == 2 else max(2, size - 3), "opacity": 0.85}
        style["color"] = palette[number % len(palette)]
        figure.add_trace(_trace(coords[rows], hover[rows], name=str(group), dims=dims, n=n, marker=style, rows=rows))
    if len(highlight):
        rows = np.asarray(highlight, dtype=int)
        scores = list(highlight_scores) or [float("nan")] * len(rows)
        labels = np.asarray(
            [f"{rank}. {score:.3f} · {hover[i]}" for rank, (i, score) in enumerate(zip(rows, scores, strict=True), 1)],
            dtype=object,
        )
        marker = {"size": size + 9, "symbol": "circle-open", "line": {"width": 3}, "color": "#d62728"}
        figure.add_trace(_trace(coords[rows], labels, name=HIGHLIGHT_NAME, dims=dims, n=n, marker=marker, rows=rows))
    layout: dict = {
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        "legend": {"itemsizing": "constant"},
        "hovermode": "closest",
        "title": {"text": title} if title else None,
    }
    if dims == 3:
        layout["scene"] = {"xaxis": {"title": ""}, "yaxis": {"title": ""}, "zaxis": {"title": ""}}
    figure.update_layout(**layout)
    return figure


def _trace(
    points: np.ndarray,
    hover: np.ndarray,
    *,
    name: str,
    dims: int,
    n: int,
    rows: np.ndarray,
    marker: dict,
) -> go.Scatter | go.Scattergl | go.Scatter3d:
    common = {
        "mode": "markers",
        "name": name,
        "text": hover,
        "customdata": rows,
        "hovertemplate": "%{text}<extra>%{fullData.name}</extra>",
        "marker": marker,
    }
    if dims == 3:
        return go.Scatter3d(x=points[:, 0], y=points[:, 1], z=points[:, 2], **common)
    kind = go.Scattergl if n > WEBGL_FROM else go.Scatter
    return kind(x=points[:, 0], y=points[:, 1], **common)


def _natural(value: object) -> tuple[str, int]:
    """Sort "cluster 2" before "cluster 10": text first, then a trailing number numerically."""
    head, _, tail = str(value).rpartition(" ")
    return (head, int(tail)) if tail.isdigit() else (str(value), -1)


def heatmap_figure(similarity: np.ndarray, texts: Sequence[str], groups: Sequence[str] | None) -> go.Figure:
    """Cosine similarities of the given (already ordered) items, hover naming both texts and the score."""
    n = similarity.shape[0]
    names = [f"{short(t, 40)}" for t in texts]
    tags = [f"[{g}] " if groups is not None else "" for g in (groups or [""] * n)]
    full = [f"{tag}{short(t, 80)}" for tag, t in zip(tags, texts, strict=True)]
    hover = [[f"{full[i]}<br>{full[j]}<br>cosine {similarity[i, j]:.3f}" for j in range(n)] for i in range(n)]
    figure = go.Figure(
        go.Heatmap(
            z=similarity,
            x=list(range(n)),
            y=list(range(n)),
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            colorscale="Viridis",
            zmin=float(np.min(similarity)),
            zmax=1.0,
            colorbar={"title": {"text": "cosine"}},
        )
    )
    ticks = list(range(n)) if n <= 40 else []
    figure.update_layout(
        height=max(420, min(900, 14 * n + 120)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"tickvals": ticks, "ticktext": [names[i] for i in ticks], "showticklabels": bool(ticks)},
        yaxis={"tickvals": ticks, "ticktext": [names[i] for i in ticks], "autorange": "reversed"},
    )
    return figure
