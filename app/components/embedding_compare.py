"""Model against model on the same texts: projections side by side, overlap@k, Spearman, the most changed texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app.components.embedding_job import EmbeddingRun
from app.components.embedding_plots import scatter_figure, short
from app.components.embedding_views import coordinates, group_names, remember, side_vectors, usable_rows
from services import projection
from services.projection import ProjectionError

MOST_CHANGED = 10


def render_compare(run: EmbeddingRun) -> None:
    """The comparison section for a run with two sides."""
    first, second = run.sides[0], run.sides[1]
    rows = usable_rows(run)
    if len(rows) < 3:
        st.info("Comparing needs at least 3 texts embedded by both deployments.")
        return
    a, b = side_vectors(run, first), side_vectors(run, second)
    k = int(st.number_input("k (neighbours)", 1, min(50, len(rows) - 1), min(10, len(rows) - 1), key="emb_cmp_k"))
    overlap = remember(run, "overlap", lambda: projection.neighbour_overlap(a, b, k), k)
    rho = remember(run, "spearman", lambda: projection.similarity_spearman(a, b))
    metrics = st.columns(4)
    metrics[0].metric(
        f"Neighbour overlap@{k}",
        f"{overlap.mean():.3f}",
        help="Mean share of each text's k nearest"
        " neighbours that both deployments agree on (1 = identical neighbourhoods).",
    )
    metrics[1].metric(
        "Spearman of similarities",
        "n/a" if np.isnan(rho) else f"{rho:.3f}",
        help="Rank correlation of all pairwise cosine similarities (a sample of pairs above 200,000).",
    )
    metrics[2].metric(f"{first.deployment.name} dims", first.result.dims)
    metrics[3].metric(f"{second.deployment.name} dims", second.result.dims)

    method = str(st.session_state.get("emb_method", "PCA"))
    method_key = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne"}.get(method, "pca")
    groups = group_names(run, str(st.session_state.get("emb_colour", "label")), None)
    texts = [run.texts[i] for i in rows]
    left, right = st.columns(2)
    for column, side, name in ((left, first, "a"), (right, second, "b")):
        with column:
            try:
                coords = coordinates(run, side, method_key, 2)  # type: ignore[arg-type]
            except ProjectionError:
                coords = coordinates(run, side, "pca", 2)
            figure = scatter_figure(coords, texts, groups, title=side.deployment.name, height=420)
            st.plotly_chart(figure, key=f"emb_cmp_scatter_{name}", config={"displaylogo": False})

    st.markdown("**Texts whose neighbours differ most**")
    worst = np.argsort(overlap, kind="stable")[:MOST_CHANGED]
    na = remember(run, "nn_a", lambda: projection.nearest_neighbours(a, a, 3, exclude_self=True).indices)
    nb = remember(run, "nn_b", lambda: projection.nearest_neighbours(b, b, 3, exclude_self=True).indices)
    table = pd.DataFrame(
        {
            "text": [texts[i] for i in worst],
            f"overlap@{k}": [round(float(overlap[i]), 3) for i in worst],
            f"nearest by {first.deployment.name}": [
                " | ".join(short(texts[j], 60, escape=False) for j in na[i]) for i in worst
            ],
            f"nearest by {second.deployment.name}": [
                " | ".join(short(texts[j], 60, escape=False) for j in nb[i]) for i in worst
            ],
        }
    )
    st.dataframe(table, hide_index=True, key="emb_cmp_table")
