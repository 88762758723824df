"""The results of an image embedding: thumbnails, similarity heatmap, projection, neighbours and text search."""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import run_slots, state
from app.components.error_card import render_error
from app.components.image_embed import ImageEmbedding, text_support
from app.components.image_figures import projection_scatter, similarity_heatmap
from services.config import Deployment
from services.probe import Status
from services.projection import ProjectionError, cosine_similarity, nearest_neighbours, project
from services.safe_markdown import code_span, escape_markdown

GRID_COLUMNS = 6
MIN_PROJECTION_POINTS = 3


def render_results(result: ImageEmbedding, deployment: Deployment | None) -> None:
    """Every view of one embedding, in the order a reader wants them."""
    n, dims = result.vectors.shape
    model = f" ({result.model})" if result.model else ""
    st.success(
        f"Embedded {n} image(s) with **{result.deployment}**{model}: {dims} dimensions, "
        f"{result.requests} request(s), {result.elapsed_s:.2f} s."
    )
    _thumbnail_grid(result)
    similarity = cosine_similarity(result.vectors)
    heat, projection = st.columns(2)
    with heat:
        st.subheader("Cosine similarity")
        st.plotly_chart(similarity_heatmap(similarity, result.names, result.thumbnails), key="images_heatmap")
    with projection:
        st.subheader("2D projection (PCA)")
        _projection(result)
    _neighbours(result)
    if deployment is not None and deployment.name == result.deployment:
        _text_search(result, deployment)


def no_text_search_words(name: str, param: str | None) -> str:
    """Why there is no text search, in words (the probe's raw refusal, route and status code, stays out)."""
    why = (
        f"it refused the parameter {code_span(param)} on a one-word test text"
        if param
        else "it has no way to embed text: a one-word test text sent to its text embeddings route was refused"
    )
    return f"**{escape_markdown(name)}** does not take text, so the images cannot be searched by text here: {why}."


def _thumbnail_grid(result: ImageEmbedding) -> None:
    pairs = list(zip(result.names, result.thumbnails, strict=True))
    # One st.columns per row keeps the images in reading order.
    for start in range(0, len(pairs), GRID_COLUMNS):
        for column, (name, thumbnail) in zip(
            st.columns(GRID_COLUMNS), pairs[start : start + GRID_COLUMNS], strict=False
        ):
            column.image(thumbnail, caption=name, width=96)


def _projection(result: ImageEmbedding) -> None:
    if len(result.names) < MIN_PROJECTION_POINTS:
        st.info(f"A projection needs at least {MIN_PROJECTION_POINTS} images.")
        return
    try:
        coords = project(result.vectors, method="pca", dims=2)
    except ProjectionError as exc:
        st.warning(f"No projection: {exc}")
        return
    groups = result.families if any(result.families) else None
    st.plotly_chart(projection_scatter(coords, result.names, result.thumbnails, groups), key="images_projection")
    st.caption("Each point is drawn as its image; hover for the name.")


def _neighbours(result: ImageEmbedding) -> None:
    st.subheader("Nearest neighbours")
    if len(result.names) < 2:
        st.info("Embed at least two images to compare them.")
        return
    query = st.selectbox("Image", range(len(result.names)), format_func=lambda i: result.names[i], key="images_nn")
    k = min(5, len(result.names) - 1)
    found = nearest_neighbours(result.vectors, result.vectors[query], k=k + 1)
    # The query itself is its own best match; leave it out by index, not by position.
    pairs = [(int(i), float(s)) for i, s in zip(found.indices[0], found.scores[0], strict=True) if int(i) != query][:k]
    columns = st.columns(k + 1)
    columns[0].image(result.thumbnails[query], caption=f"query: {result.names[query]}", width=96)
    for column, (index, score) in zip(columns[1:], pairs, strict=False):
        column.image(result.thumbnails[index], caption=f"{result.names[index]} · {score:.3f}", width=96)


def _text_search(result: ImageEmbedding, deployment: Deployment) -> None:
    st.subheader("Search the images by text")
    support = text_support(deployment)
    if support.status is Status.NOT_SUPPORTED:
        st.info(no_text_search_words(deployment.name, support.param))
        return
    with st.form("images_search", border=False):
        query = st.text_input("Describe an image", key="images_query", placeholder="red circles")
        submitted = st.form_submit_button("Search")
    if not submitted or not query.strip():
        return
    try:
        with run_slots.released():
            vector = state.get_client(deployment).embed([query.strip()]).vectors
    except Exception as exc:  # shown as a card: most often the deployment has no text route
        render_error(exc, key="images_search")
        return
    vector = np.asarray(vector, dtype=np.float32)
    if vector.shape[1] != result.vectors.shape[1]:
        st.warning(
            f"{deployment.name} gives text vectors of {vector.shape[1]} dimensions and image vectors of "
            f"{result.vectors.shape[1]}: they are not in one space, so text cannot search these images."
        )
        return
    found = nearest_neighbours(result.vectors, vector[0], k=min(5, len(result.names)))
    columns = st.columns(max(1, found.indices.shape[1]))
    for column, index, score in zip(columns, found.indices[0].tolist(), found.scores[0].tolist(), strict=False):
        column.image(result.thumbnails[index], caption=f"{result.names[index]} · {score:.3f}", width=96)
