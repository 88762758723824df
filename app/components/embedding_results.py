"""The results of an embedding run: partial-failure notice, the projected map with search, the heatmap and export."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

from app import run_slots, state
from app.components.embedding_inputs import query_params
from app.components.embedding_job import EmbeddingRun, Side
from app.components.embedding_plots import heatmap_figure, scatter_figure
from app.components.embedding_views import (
    clusters,
    coordinates,
    group_names,
    projected,
    remember,
    side_vectors,
    usable_rows,
    warm_up_umap,
)
from app.components.error_card import render_error
from services import datasets, projection
from services.errors import InferenceError
from services.projection import ProjectionError

METHOD_LABELS = {"PCA": "pca", "UMAP": "umap", "t-SNE": "tsne"}
HEATMAP_MAX = 200
SEARCH_KEY = "emb_search_result"


def render_failures(
    run: EmbeddingRun, on_retry: Callable[[], None], on_retry_without: Callable[[str], None] | None = None
) -> None:
    """Say which texts are missing and why, with a button to send only those again (or without a refused option)."""
    for side in run.sides:
        result = side.result
        missing = result.missing_indices
        if not missing:
            continue
        name = side.deployment.name
        if result.fatal is not None:
            render_error(result.fatal, key=f"emb_fatal_{name}", on_retry_without=on_retry_without)
            continue
        if result.cancelled and not result.failures:
            st.info(f"Cancelled: {name} embedded {len(run.texts) - len(missing):,} of {len(run.texts):,} texts.")
        for number, failure in enumerate(result.failures):
            first = ", ".join(f"#{i}" for i in failure.indices[:8]) + (" …" if len(failure.indices) > 8 else "")
            st.warning(
                f"**{name}: {len(failure.indices):,} text(s) could not be embedded** ({first}): {failure.message}",
                icon=":material/error:",
            )
            if number >= 4:
                st.caption(f"… and {len(result.failures) - 5} more failed batches.")
                break
        # After a plain cancel nothing failed, so the kept vectors are not "the other" ones.
        other = "" if result.cancelled and not result.failures else "other "
        st.caption(f"The {other}{len(run.texts) - len(missing):,} vectors of {name} are kept and used below.")
    if any(side.result.missing_indices for side in run.sides) and not any(side.result.fatal for side in run.sides):
        st.button("Retry the missing texts", key="emb_retry_missing", on_click=on_retry)


def _search(run: EmbeddingRun, side: Side) -> tuple[list[int], list[float]]:
    """The search box: embeds the query with the same deployment and options, keeps the answer per run and query."""
    left, right = st.columns([4, 1])
    query = left.text_input("Search", key="emb_query", placeholder="Find the texts nearest to…").strip()
    k = int(right.number_input("Top k", 1, 50, 5, key="emb_top_k"))
    if not query:
        return [], []
    stored = st.session_state.get(SEARCH_KEY)
    wanted = (run.id, side.deployment.name, query)
    if stored is None or stored[0] != wanted:
        try:
            with run_slots.released():
                vector = state.get_client(side.deployment).embed([query], **query_params(side.params)).vectors[0]
        except InferenceError as err:
            render_error(err, key="emb_search")
            return [], []
        st.session_state[SEARCH_KEY] = (wanted, vector)
        stored = st.session_state[SEARCH_KEY]
    vectors = side_vectors(run, side)
    if stored[1].shape[0] != vectors.shape[1]:
        st.warning("The query vector has a different size from the texts' vectors; embed the texts again.")
        return [], []
    found = projection.nearest_neighbours(vectors, stored[1], k)
    return found.indices[0].tolist(), found.scores[0].tolist()


def render_map(run: EmbeddingRun, side: Side) -> None:
    """Projection controls, search, the scatter, and the neighbour table."""
    rows = usable_rows(run)
    if len(rows) == 0:
        st.info("Nothing to plot yet: no text was embedded.")
        return
    cols = st.columns([2, 1, 2, 1])
    method_label = cols[0].radio("Projection", list(METHOD_LABELS), horizontal=True, key="emb_method")
    dims = 3 if cols[1].radio("View", ["2D", "3D"], horizontal=True, key="emb_dims") == "3D" else 2
    colour_options = (["label"] if run.labels is not None else []) + ["cluster", "none"]
    colour_by = cols[2].radio("Colour by", colour_options, horizontal=True, key="emb_colour")
    # As many clusters as labels when there are labels, else about sqrt(n / 2) (2 to 12).
    default_k = min(max(len(set(run.labels)), 2), 20) if run.labels else min(12, max(2, round((len(rows) / 2) ** 0.5)))
    k = int(cols[3].number_input("Clusters", 1, 50, default_k, key="emb_clusters"))
    labels = clusters(run, side, k)
    method = METHOD_LABELS[str(method_label)]
    if not projected(run, side, method, dims):
        caption = projection.time_caption(str(method_label), method, len(rows), dims)
        if method == "umap" and warm_up_umap().is_alive():
            caption = " ".join(
                filter(None, [caption, "UMAP is compiling its code for this server process first (once)."])
            )
        if caption:
            st.caption(caption)
    try:
        with st.spinner(f"{method_label} of {len(rows):,} vectors…"):
            coords = coordinates(run, side, method, dims)  # type: ignore[arg-type]
    except ProjectionError as err:
        st.warning(f"{method_label} cannot run here: {err}. Showing PCA instead.")
        method = "pca"
        coords = coordinates(run, side, method, dims)
    hits, scores = _search(run, side)
    groups = group_names(run, str(colour_by), labels)
    texts = [run.texts[i] for i in rows]
    figure = scatter_figure(coords, texts, groups, highlight=hits, highlight_scores=scores)
    st.plotly_chart(figure, key="emb_scatter", config={"displaylogo": False})
    if hits:
        table = pd.DataFrame(
            {
                "rank": range(1, len(hits) + 1),
                "score": [round(s, 4) for s in scores],
                "text": [texts[i] for i in hits],
                **({"label": [run.labels[rows[i]] for i in hits]} if run.labels else {}),
                "row": [int(rows[i]) for i in hits],
            }
        )
        st.dataframe(table, hide_index=True, key="emb_neighbours")
    st.session_state["emb_export_view"] = (side.deployment.name, method, dims, k)
    # Started once the map is drawn: compiling holds the interpreter lock for seconds, which would delay the first map.
    warm_up_umap()


def render_heatmap(run: EmbeddingRun, side: Side) -> None:
    """Cosine similarity of up to 200 items (a seeded sample when there are more), ordered by cluster."""
    rows = usable_rows(run)
    if len(rows) < 2:
        return
    limit = int(
        st.slider("Items", 2, min(HEATMAP_MAX, len(rows)), min(60, len(rows)), key="emb_heatmap_items")
        if len(rows) > 2
        else 2
    )
    k = int(st.session_state.get("emb_clusters", 8))
    labels = clusters(run, side, k)
    chosen = np.sort(np.random.default_rng(0).choice(len(rows), size=limit, replace=False))
    vectors = side_vectors(run, side)[chosen]
    order = chosen[projection.cluster_order(vectors, labels[chosen])]
    similarity = remember(
        run,
        "heatmap",
        lambda: projection.cosine_similarity(side_vectors(run, side)[order]),
        side.deployment.name,
        limit,
        k,
    )
    texts = [run.texts[rows[i]] for i in order]
    groups = [f"cluster {labels[i]}" for i in order]
    st.plotly_chart(heatmap_figure(similarity, texts, groups), key="emb_heatmap", config={"displaylogo": False})


def render_export(run: EmbeddingRun) -> None:
    """CSV and Parquet downloads of texts, labels, clusters, coordinates and vectors (built when clicked)."""
    names = [side.deployment.name for side in run.live_sides]
    name = st.selectbox("Vectors of", names, key="emb_export_side") if len(names) > 1 else names[0]
    side = run.live_sides[names.index(name)]
    view = st.session_state.get("emb_export_view")
    rows = usable_rows(run)
    # Resolved here, in the script thread: the download callables run later, where the session is not reachable.
    coords, cluster_labels = None, None
    if view is not None and view[0] == name:
        coords = np.full((len(run.texts), view[2]), np.nan, dtype=np.float32)
        coords[rows] = coordinates(run, side, view[1], view[2])
        cluster_labels = np.full(len(run.texts), -1)
        cluster_labels[rows] = clusters(run, side, view[3])
    texts, labels, vectors = run.texts, run.labels, side.result.vectors

    def frame() -> pd.DataFrame:
        return datasets.export_frame(texts, vectors, labels=labels, clusters=cluster_labels, coords=coords)

    left, right = st.columns(2)
    stem = f"embeddings-{name}"
    left.download_button(
        "Download CSV",
        lambda: datasets.to_csv_bytes(frame()),
        f"{stem}.csv",
        "text/csv",
        key="emb_csv",
        on_click="ignore",
    )
    right.download_button(
        "Download Parquet",
        lambda: datasets.to_parquet_bytes(frame()),
        f"{stem}.parquet",
        "application/vnd.apache.parquet",
        key="emb_parquet",
        on_click="ignore",
    )
