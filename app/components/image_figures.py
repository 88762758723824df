"""Plotly figures for image embeddings: a cosine heatmap with thumbnails on its axes, a projection with thumbnails."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

# Thumbnails take this fraction of a cell so neighbours do not touch.
_CELL_FILL = 0.9


def similarity_heatmap(similarity: np.ndarray, names: Sequence[str], thumbnails: Sequence[str]) -> go.Figure:
    """An n x n cosine heatmap; row and column i carry image i's thumbnail (a data URL) beside the matrix."""
    n = len(names)
    if similarity.shape != (n, n) or len(thumbnails) != n:
        raise ValueError(f"need an {n} x {n} matrix and {n} thumbnails, got {similarity.shape} and {len(thumbnails)}")
    text = [[f"{names[i]} · {names[j]}<br>cosine {similarity[i, j]:.3f}" for j in range(n)] for i in range(n)]
    figure = go.Figure(
        go.Heatmap(
            z=similarity,
            x=list(range(n)),
            y=list(range(n)),
            zmin=float(min(0.0, similarity.min())),
            zmax=1.0,
            colorscale="Viridis",
            text=text,
            hoverinfo="text",
            colorbar={"title": "cosine"},
        )
    )
    # The thumbnails sit in an extra row above and an extra column left of the matrix, in data coordinates.
    images = []
    for i, source in enumerate(thumbnails):
        common = {"source": source, "sizex": _CELL_FILL, "sizey": _CELL_FILL, "xanchor": "center", "yanchor": "middle"}
        images.append({**common, "x": i, "y": -1, "xref": "x", "yref": "y", "layer": "above"})
        images.append({**common, "x": -1, "y": i, "xref": "x", "yref": "y", "layer": "above"})
    # The matrix is square (scaleanchor), so a height near the half-page column width leaves no empty band.
    side = max(360, min(600, 70 * (n + 1)))
    figure.update_layout(
        images=images,
        height=side,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"range": [-1.5, n - 0.5], "showticklabels": False, "showgrid": False, "zeroline": False},
        yaxis={
            "range": [n - 0.5, -1.5],
            "showticklabels": False,
            "showgrid": False,
            "zeroline": False,
            "scaleanchor": "x",
        },
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def projection_scatter(
    coords: np.ndarray,
    names: Sequence[str],
    thumbnails: Sequence[str],
    groups: Sequence[str] | None = None,
) -> go.Figure:
    """A 2-D scatter where each point shows its thumbnail; hovering names the image (and its group when known)."""
    n = len(names)
    if coords.shape != (n, 2) or len(thumbnails) != n:
        raise ValueError(f"need {n} x 2 coordinates and {n} thumbnails, got {coords.shape} and {len(thumbnails)}")
    xs, ys = coords[:, 0].astype(float), coords[:, 1].astype(float)
    span = max(float(np.ptp(xs)) if n else 0.0, float(np.ptp(ys)) if n else 0.0, 1e-6)
    size = span / max(4.0, np.sqrt(n) * 2.5)
    labels = list(groups) if groups else [""] * n
    figure = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            marker={"size": 10, "opacity": 0.35},
            customdata=np.array([[names[i], labels[i]] for i in range(n)], dtype=object),
            hovertemplate="<b>%{customdata[0]}</b> %{customdata[1]}<br>(%{x:.3f}, %{y:.3f})<extra></extra>",
        )
    )
    figure.update_layout(
        images=[
            {
                "source": thumbnails[i],
                "x": xs[i],
                "y": ys[i],
                "xref": "x",
                "yref": "y",
                "sizex": size,
                "sizey": size,
                "xanchor": "center",
                "yanchor": "middle",
                "layer": "above",
            }
            for i in range(n)
        ],
        height=520,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"range": [xs.min() - size, xs.max() + size] if n else None, "title": "component 1"},
        yaxis={"range": [ys.min() - size, ys.max() + size] if n else None, "title": "component 2", "scaleanchor": "x"},
    )
    return figure
