"""Derived views of an embedding run, computed once per run and option set and kept in the session."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import streamlit as st

from app import run_slots
from app.components.embedding_job import EmbeddingRun, Side
from services import projection

log = logging.getLogger(__name__)
T = TypeVar("T")
CACHE_PREFIX = "emb_cache_"


def remember(run: EmbeddingRun, name: str, compute: Callable[[], T], *parts: Any) -> T:
    """`compute()` once per run and `parts`; reruns (every widget change) reuse the value."""
    key = _key(run, name, *parts)
    if key not in st.session_state:
        # Projections and clusterings can take seconds of numeric work: other sessions' pages run meanwhile.
        with run_slots.released():
            value = compute()
        st.session_state[key] = value
    return st.session_state[key]


def usable_rows(run: EmbeddingRun) -> np.ndarray:
    """Indices (into run.texts) of the rows every side embedded."""
    return np.flatnonzero(run.usable)


def side_vectors(run: EmbeddingRun, side: Side) -> np.ndarray:
    """The side's vectors for the usable rows."""
    return side.result.vectors[run.usable]


def clusters(run: EmbeddingRun, side: Side, k: int) -> np.ndarray:
    """k-means labels of the usable rows (per side and k)."""
    return remember(
        run, "kmeans", lambda: projection.kmeans_clusters(side_vectors(run, side), k), side.deployment.name, k
    )


def _key(run: EmbeddingRun, name: str, *parts: Any) -> str:
    return f"{CACHE_PREFIX}{run.id}_{name}_" + "_".join(map(str, parts))


def projected(run: EmbeddingRun, side: Side, method: str, dims: int) -> bool:
    """Whether these coordinates are already computed (kept in the session)."""
    return _key(run, "coords", side.deployment.name, method, dims) in st.session_state


def _timed_projection(vectors: np.ndarray, method: projection.ProjectionMethod, dims: int) -> np.ndarray:
    """Project, and give the time to the estimates (UMAP's only once its compilation is done, which it would add)."""
    compiled = method != "umap" or not warm_up_umap().is_alive()
    started = time.perf_counter()
    coords = projection.project(vectors, method, dims)  # type: ignore[arg-type]
    if compiled:
        projection.record_seconds(method, len(vectors), dims, time.perf_counter() - started)
    return coords


def coordinates(run: EmbeddingRun, side: Side, method: projection.ProjectionMethod, dims: int) -> np.ndarray:
    """Projected coordinates of the usable rows (per side, method and dims)."""
    return remember(
        run,
        "coords",
        lambda: _timed_projection(side_vectors(run, side), method, dims),
        side.deployment.name,
        method,
        dims,
    )


def group_names(run: EmbeddingRun, colour_by: str, cluster_labels: np.ndarray | None) -> list[str] | None:
    """Legend groups of the usable rows: labels, cluster numbers, or None for one colour."""
    rows = usable_rows(run)
    if colour_by == "label" and run.labels is not None:
        return [run.labels[i] or "(no label)" for i in rows]
    if colour_by == "cluster" and cluster_labels is not None:
        return [f"cluster {c}" for c in cluster_labels]
    return None


def _compile_umap() -> None:
    try:
        projection.project(np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32), "umap")
    except Exception:  # a failed warm-up only means the first real UMAP pays the compilation
        log.exception("UMAP warm-up failed")


@st.cache_resource(show_spinner=False)
def warm_up_umap() -> threading.Thread:
    """Compile UMAP's numba code once per process, in the background (6-20 s), before anyone picks UMAP."""
    thread = threading.Thread(target=_compile_umap, name="umap-warm-up", daemon=True)
    thread.start()
    return thread
