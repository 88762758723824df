"""Model against model on the same texts: projections side by side, overlap@k, Spearman, the most changed texts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app.components.embedding_job import EmbeddingRun
from app.components.embedding_plots import scatter_figure, short
from app.components.embedding_views import clusters, coordinates, group_names, remember, side_vectors, usable_rows
from services import projection
from services.projection import ProjectionError

MOST_CHANGED = 10
OVERLAP_SAMPLE = 2000


def render_compare(run: EmbeddingRun) -> None:
    """The comparison section for a run with two sides."""
    first, second = run.live_sides[0], run.live_sides[1]
    rows = usable_rows(run)
    if len(rows) < 3:
        st.info("Comparing needs at least 3 texts embedded by both deployments.")
        return
    a, b = side_vectors(run, first), side_vectors(run, second)
    k = int(st.number_input("k (neighbours)", 1, min(50, len(rows) - 1), min(10, len(rows) - 1), key="emb_cmp_k"))
    # Above OVERLAP_SAMPLE texts, overlap is scored on a seeded sample (neighbours still come from every text).
    scored = np.arange(len(rows))
    if len(rows) > OVERLAP_SAMPLE:
        scored = np.sort(np.random.default_rng(0).choice(len(rows), OVERLAP_SAMPLE, replace=False))
        st.caption(f"Overlap is measured on a sample of {OVERLAP_SAMPLE:,} of the {len(rows):,} texts.")
    with st.spinner("Comparing neighbourhoods…"):
        overlap = remember(run, "overlap", lambda: projection.neighbour_overlap(a, b, k, rows=scored), k)
    rho = remember(run, "spearman", lambda: projection.similarity_spearman(a, b))
    metrics = st.columns(4)
    metrics[0].metric(
        f"Neighbour overlap@{k}",
        f"{overlap.mean():.3f}",
        help="Mean share of each text's k nearest neighbours that both deployments agree on (1 = identical).",
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
    # The main deployment's clusters colour both maps, so the same text has the same colour on each side.
    main_clusters = clusters(run, first, int(st.session_state.get("emb_clusters", 8)))
    groups = group_names(run, str(st.session_state.get("emb_colour", "label")), main_clusters)
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
    order = np.argsort(overlap, kind="stable")[:MOST_CHANGED]
    worst = scored[order]
    na = projection.nearest_neighbours(a, a[worst], 3, exclude_self=True, query_rows=worst).indices
    nb = projection.nearest_neighbours(b, b[worst], 3, exclude_self=True, query_rows=worst).indices

    def listing(found: np.ndarray) -> list[str]:
        return [" | ".join(short(texts[j], 60, escape=False) for j in row) for row in found]

    table = pd.DataFrame(
        {
            "text": [texts[i] for i in worst],
            f"overlap@{k}": [round(float(overlap[i]), 3) for i in order],
            f"nearest by {first.deployment.name}": listing(na),
            f"nearest by {second.deployment.name}": listing(nb),
        }
    )
    st.dataframe(table, hide_index=True, key="emb_cmp_table")
