"""Projections (PCA, UMAP, t-SNE) and similarity measures over embedding vectors.

Everything works on cosine geometry: rows are L2-normalised first, so euclidean distances in the projections rank
pairs the same way cosine similarity does.
"""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

ProjectionMethod = Literal["pca", "umap", "tsne"]
METHODS: tuple[ProjectionMethod, ...] = ("pca", "umap", "tsne")
FloatArray = NDArray[np.float32]
IntArray = NDArray[np.int64]

# Rows compared at a time in neighbour searches: 1024 x 10,000 float32 is 40 MB, never the whole n x n matrix.
_CHUNK_ROWS = 1024
_MIN_ROWS = {"pca": 1, "umap": 4, "tsne": 4}
KMEANS_RESTARTS_UP_TO = 2_000
# From this many rows the colours come from mini-batch k-means: full k-means on 10,000 unstructured vectors ran 60 to
# 300 iterations (0.5 to 3.8 s on one core, most of the map's wait after the last vector); mini-batches of 1,024 took
# 0.3 s for clusters within 0.1% of its inertia.
KMEANS_MINIBATCH_FROM = 5_000


class ProjectionError(ValueError):
    """A projection or measure cannot run on the given vectors (too few rows, mismatched shapes, bad options)."""


def as_matrix(vectors: Any) -> FloatArray:
    """Return `vectors` as a finite 2-D float32 array, or raise ProjectionError naming what is wrong."""
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim != 2:
        raise ProjectionError(f"expected a 2-D array of vectors (n, d), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ProjectionError("vectors contain NaN or infinite values")
    return arr


def normalize_rows(vectors: Any) -> FloatArray:
    """Scale every row to unit length; all-zero rows stay zero."""
    arr = as_matrix(vectors)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return (arr / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)


def project(
    vectors: Any,
    method: ProjectionMethod = "pca",
    dims: Literal[2, 3] = 2,
    *,
    normalize: bool = True,
    random_state: int = 0,
    **params: Any,
) -> FloatArray:
    """Project (n, d) vectors to (n, dims) coordinates with PCA (numpy), UMAP (umap-learn) or t-SNE (scikit-learn).

    Extra `params` go to the method (UMAP: n_neighbors, min_dist, n_epochs; t-SNE: perplexity, max_iter). Values the
    data cannot support (n_neighbors or perplexity above what n rows allow) are clamped rather than failing.
    """
    if dims not in (2, 3):
        raise ProjectionError(f"dims must be 2 or 3, got {dims}")
    if method not in METHODS:
        raise ProjectionError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    arr = normalize_rows(vectors) if normalize else as_matrix(vectors)
    n = arr.shape[0]
    if n < _MIN_ROWS[method]:
        raise ProjectionError(f"{method.upper()} needs at least {_MIN_ROWS[method]} texts, got {n}")
    if method == "pca":
        return pca(arr, dims)
    if method == "umap":
        return _umap(arr, dims, random_state, **params)
    return _tsne(arr, dims, random_state, **params)


# Seconds per unit of `_work` for the slow methods, measured on a 2-CPU machine (t-SNE: 10,000 points in 18 s;
# UMAP: 2,000 in 3.6 s, 5,000 in 10.5 s); replaced by this process's own last run of each method.
_SECONDS_PER_UNIT: dict[str, float] = {"tsne": 18.0 / (10_000 * np.log2(10_000)), "umap": 3.56 / (2_000 * 1.2)}
_MEASURED: set[str] = set()
# Smaller runs are mostly fixed costs (imports, set-up): their rate would overstate large ones.
MIN_RECORDED_POINTS = 1_000
# Shorter waits need no warning.
CAPTION_FROM_S = 5.0


def _work(method: str, n: int, dims: int) -> float:
    """How the method's time grows with the number of points: t-SNE (Barnes-Hut) as n log n, twice that in 3D; UMAP
    linearly plus its exact neighbour search's n squared."""
    n = max(int(n), 2)
    if method == "tsne":
        return n * float(np.log2(n)) * (2.0 if dims == 3 else 1.0)
    if method == "umap":
        return n * (1.0 + n / 10_000)
    return 0.0


def estimate_seconds(method: str, n: int, dims: int = 2) -> float | None:
    """Expected seconds to project `n` points with a slow method (t-SNE, UMAP); None for PCA (instant)."""
    if method not in _SECONDS_PER_UNIT:
        return None
    return _SECONDS_PER_UNIT[method] * _work(method, n, dims)


def estimate_measured(method: str) -> bool:
    """Whether the estimate for `method` comes from a run in this process (else from the built-in figures)."""
    return method in _MEASURED


def record_seconds(method: str, n: int, dims: int, seconds: float) -> None:
    """Take a finished projection's time as the rate for the next estimates (the machine's load changes it)."""
    work = _work(method, n, dims)
    if method in _SECONDS_PER_UNIT and n >= MIN_RECORDED_POINTS and seconds > 0:
        _SECONDS_PER_UNIT[method] = seconds / work
        _MEASURED.add(method)


def duration_words(seconds: float) -> str:
    """`about 20 s`, `about 2 min`: rounded as an estimate should be."""
    if seconds < 60:
        return f"about {max(5, round(seconds / 5) * 5)} s"
    return f"about {round(seconds / 60)} min"


def time_caption(label: str, method: str, n: int, dims: int = 2) -> str | None:
    """A sentence on how long projecting `n` points will take, from the sizes; None when it is quick."""
    seconds = estimate_seconds(method, n, dims)
    if seconds is None or seconds < CAPTION_FROM_S:
        return None
    basis = "the last run on this server" if estimate_measured(method) else "the number of points"
    return f"{label} of {n:,} points in {dims}D: {duration_words(seconds)} (estimated from {basis})."


def pca(vectors: Any, dims: int = 2) -> FloatArray:
    """Principal components with numpy: eigenvectors of the d x d covariance (cheap when n >> d), signs fixed."""
    from threadpoolctl import threadpool_limits

    arr = as_matrix(vectors)
    n, d = arr.shape
    centred = arr - arr.mean(axis=0, dtype=np.float64).astype(np.float32)
    # One BLAS thread: on a busy 2-core machine OpenBLAS threads spin against each other (1.5 s vs 0.05 s measured).
    with threadpool_limits(limits=1, user_api="blas"):
        if n > d:
            eigvals, eigvecs = np.linalg.eigh((centred.T @ centred).astype(np.float64))
            components = eigvecs[:, np.argsort(eigvals)[::-1][:dims]]
        else:
            _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
            components = vt[:dims].T
    # Deterministic orientation: the largest loading of each component is positive.
    signs = np.sign(components[np.abs(components).argmax(axis=0), np.arange(components.shape[1])])
    components = components * np.where(signs == 0, 1.0, signs)
    coords = centred @ components.astype(np.float32)
    if coords.shape[1] < dims:  # fewer rows or features than requested axes: pad with zeros
        coords = np.hstack([coords, np.zeros((n, dims - coords.shape[1]))])
    return coords.astype(np.float32)


def _umap(arr: FloatArray, dims: int, random_state: int, **params: Any) -> FloatArray:
    import umap  # imported lazily: numba compilation makes the import cost seconds

    n = arr.shape[0]
    options: dict[str, Any] = {
        "n_neighbors": 15,
        "min_dist": 0.1,
        # Fewer epochs than umap's default (500 under 10k rows): the layout settles well before, at half the time.
        "n_epochs": 200,
        "init": "spectral",
        "low_memory": True,
        "metric": "euclidean",
    }
    options.update(params)
    options["n_neighbors"] = max(2, min(int(options["n_neighbors"]), n - 1))
    if n < 2 * options["n_neighbors"] + 2 and options["init"] == "spectral":
        options["init"] = "random"  # spectral init is unstable on a handful of points
    unit_rows = np.allclose(np.linalg.norm(arr, axis=1)[np.any(arr != 0, axis=1)], 1.0, atol=1e-3)
    if "precomputed_knn" not in options and options["metric"] == "euclidean" and unit_rows:
        # An exact numpy kNN graph replaces pynndescent, whose numba compilation costs ~40 s per process.
        options["precomputed_knn"] = _knn_graph(arr, options["n_neighbors"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that random_state disables parallelism; determinism is wanted
        reducer = umap.UMAP(n_components=dims, random_state=random_state, **options)
        coords = reducer.fit_transform(arr)
    return np.asarray(coords, dtype=np.float32)


def _knn_graph(arr: FloatArray, n_neighbors: int) -> tuple[IntArray, FloatArray]:
    """Exact euclidean kNN in umap's layout: each row lists itself first (distance 0), then its neighbours."""
    found = nearest_neighbours(arr, arr, n_neighbors - 1, exclude_self=True)
    norms = np.linalg.norm(arr, axis=1)
    # For rows of any length: |x - y|^2 = |x|^2 + |y|^2 - 2 x.y, with x.y recovered from the cosine score.
    dots = found.scores * norms[:, None] * norms[found.indices]
    sq = np.maximum(norms[:, None] ** 2 + norms[found.indices] ** 2 - 2 * dots, 0.0)
    indices = np.hstack([np.arange(arr.shape[0])[:, None], found.indices])
    dists = np.hstack([np.zeros((arr.shape[0], 1), dtype=np.float32), np.sqrt(sq).astype(np.float32)])
    return indices, dists


def _tsne(arr: FloatArray, dims: int, random_state: int, **params: Any) -> FloatArray:
    from sklearn.manifold import TSNE

    n = arr.shape[0]
    options: dict[str, Any] = {"perplexity": 30.0, "init": "pca", "learning_rate": "auto", "max_iter": 500}
    options.update(params)
    # t-SNE requires perplexity < n; a third of n keeps small inputs meaningful.
    options["perplexity"] = float(max(1.0, min(float(options["perplexity"]), (n - 1) / 3)))
    model = TSNE(n_components=dims, random_state=random_state, n_jobs=-1, **options)
    return np.asarray(model.fit_transform(arr), dtype=np.float32)


def cosine_similarity(a: Any, b: Any | None = None) -> FloatArray:
    """Cosine similarity matrix between the rows of `a` and `b` (or `a` with itself), shape (len(a), len(b))."""
    na = normalize_rows(a)
    nb = na if b is None else normalize_rows(b)
    if na.shape[1] != nb.shape[1]:
        raise ProjectionError(f"vector sizes differ: {na.shape[1]} vs {nb.shape[1]}")
    return np.clip(na @ nb.T, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class Neighbours:
    """Top-k neighbours: indices and cosine scores, each shaped (queries, k), best first."""

    indices: IntArray
    scores: FloatArray


def nearest_neighbours(
    vectors: Any, queries: Any, k: int = 10, *, exclude_self: bool = False, query_rows: Any = None
) -> Neighbours:
    """The k rows of `vectors` most cosine-similar to each query row (queries may be one 1-D vector).

    With exclude_self, each query is itself a row of `vectors` (row i, or row `query_rows[i]` when given) and is left
    out of its own neighbours.
    """
    base = normalize_rows(vectors)
    q = np.asarray(queries, dtype=np.float32)
    q = normalize_rows(q[None, :] if q.ndim == 1 else q)
    if q.shape[1] != base.shape[1]:
        raise ProjectionError(f"query has {q.shape[1]} dimensions but the vectors have {base.shape[1]}")
    own = np.arange(q.shape[0]) if query_rows is None else np.asarray(query_rows, dtype=np.int64)
    limit = base.shape[0] - (1 if exclude_self else 0)
    k = max(0, min(int(k), limit))
    indices = np.empty((q.shape[0], k), dtype=np.int64)
    scores = np.empty((q.shape[0], k), dtype=np.float32)
    if k == 0:
        return Neighbours(indices=indices, scores=scores)
    for start in range(0, q.shape[0], _CHUNK_ROWS):
        sims = q[start : start + _CHUNK_ROWS] @ base.T
        if exclude_self:
            sims[np.arange(sims.shape[0]), own[start : start + sims.shape[0]]] = -np.inf
        if k < sims.shape[1]:
            # Partition for the k largest in place of sorting the whole row (no negated copy of the chunk).
            top = np.argpartition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        else:
            top = np.tile(np.arange(k), (len(sims), 1))
        top_scores = np.take_along_axis(sims, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        indices[start : start + len(sims)] = np.take_along_axis(top, order, axis=1)
        scores[start : start + len(sims)] = np.take_along_axis(top_scores, order, axis=1)
    return Neighbours(indices=indices, scores=np.clip(scores, -1.0, 1.0))


_preload_lock = threading.Lock()
_preload: threading.Thread | None = None


def _import_clustering() -> None:
    import sklearn.cluster  # noqa: F401
    import threadpoolctl  # noqa: F401


def preload_clustering() -> threading.Thread:
    """Import k-means in the background, once per process: the import takes 1.5 to 4.5 s on 2 cores, the first map's
    longest wait after its last vector. Start it when vectors are on their way (an import that has begun holds later
    importers until it is done, so there is no race)."""
    global _preload
    with _preload_lock:
        if _preload is None:
            _preload = threading.Thread(target=_import_clustering, name="kmeans-import", daemon=True)
            _preload.start()
        return _preload


def kmeans_clusters(vectors: Any, n_clusters: int = 8, *, random_state: int = 0) -> IntArray:
    """K-means cluster labels (0..k-1) on normalised vectors; k is clamped to the number of distinct rows."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from threadpoolctl import threadpool_limits

    arr = normalize_rows(vectors)
    # Distinct rows by their bytes: np.unique(axis=0) sorts the whole matrix (0.3 s for 10,000 x 384).
    distinct = len({row.tobytes() for row in arr})
    k = max(1, min(int(n_clusters), distinct))
    if k == 1:
        return np.zeros(arr.shape[0], dtype=np.int64)
    # One k-means++ start above a few thousand rows (three cost 3.5x the time for colours that barely change), and one
    # thread: on a busy 2-core machine OpenMP threads spin against each other (10,000 rows: 36 s vs 2.5 s measured).
    rows = arr.shape[0]
    model: KMeans | MiniBatchKMeans
    if rows >= KMEANS_MINIBATCH_FROM:
        model = MiniBatchKMeans(n_clusters=k, n_init=1, batch_size=1024, random_state=random_state)
    else:
        model = KMeans(n_clusters=k, n_init=3 if rows <= KMEANS_RESTARTS_UP_TO else 1, random_state=random_state)
    with threadpool_limits(limits=1):
        return model.fit_predict(arr).astype(np.int64)


def cluster_order(vectors: Any, labels: Any) -> IntArray:
    """Row order that groups rows by cluster label, each group sorted by similarity to its centroid (for heatmaps)."""
    arr = normalize_rows(vectors)
    labels = np.asarray(labels)
    if labels.shape[0] != arr.shape[0]:
        raise ProjectionError(f"{labels.shape[0]} labels for {arr.shape[0]} vectors")
    order: list[int] = []
    for label in sorted(set(labels.tolist()), key=str):
        members = np.flatnonzero(labels == label)
        centroid = arr[members].mean(axis=0)
        order.extend(members[np.argsort(-(arr[members] @ centroid), kind="stable")].tolist())
    return np.asarray(order, dtype=np.int64)


def _check_pair(a: Any, b: Any) -> tuple[FloatArray, FloatArray]:
    ma, mb = as_matrix(a), as_matrix(b)
    if ma.shape[0] != mb.shape[0]:
        raise ProjectionError(f"the two embedding sets must cover the same texts: {ma.shape[0]} vs {mb.shape[0]} rows")
    return ma, mb


def neighbour_overlap(a: Any, b: Any, k: int = 10, *, rows: Any = None) -> FloatArray:
    """Per text, the fraction of its k nearest neighbours under embedding set `a` that are also among them under `b`.

    The two sets may have different dimensions; they must embed the same texts in the same order. `rows` limits the
    texts scored (their neighbours are still searched among all texts), which makes large sets affordable.
    """
    ma, mb = _check_pair(a, b)
    if ma.shape[0] < 2:
        raise ProjectionError("neighbour overlap needs at least 2 texts")
    k = max(1, min(int(k), ma.shape[0] - 1))
    chosen = np.arange(ma.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    na = nearest_neighbours(ma, ma[chosen], k, exclude_self=True, query_rows=chosen).indices
    nb = nearest_neighbours(mb, mb[chosen], k, exclude_self=True, query_rows=chosen).indices
    # Row-wise set intersection: compare every pair of the two k-lists on a k x k grid.
    hits = (na[:, :, None] == nb[:, None, :]).any(axis=2).sum(axis=1)
    return (hits / k).astype(np.float32)


def similarity_spearman(a: Any, b: Any, *, max_pairs: int = 200_000, random_state: int = 0) -> float:
    """Spearman rank correlation between the pairwise cosine similarities of two embedding sets of the same texts.

    Uses every pair when there are at most `max_pairs`, otherwise a seeded random sample of pairs.
    """
    from scipy.stats import spearmanr

    ma, mb = _check_pair(a, b)
    n = ma.shape[0]
    if n < 3:
        raise ProjectionError("Spearman correlation of similarities needs at least 3 texts")
    total = n * (n - 1) // 2
    if total <= max_pairs:
        i, j = np.triu_indices(n, k=1)
    else:
        rng = np.random.default_rng(random_state)
        i = rng.integers(0, n, size=max_pairs)
        j = rng.integers(0, n - 1, size=max_pairs)
        j = j + (j >= i)  # never pair a row with itself
    na, nb = normalize_rows(ma), normalize_rows(mb)
    sa, sb = _pair_cosines(na, i, j), _pair_cosines(nb, i, j)
    if np.ptp(sa) == 0 or np.ptp(sb) == 0:
        return float("nan")
    return float(spearmanr(sa, sb).statistic)


def _pair_cosines(unit: FloatArray, i: IntArray, j: IntArray, chunk: int = 16_384) -> FloatArray:
    """Dot products of unit rows i[p] and j[p], gathered a chunk at a time (all at once would copy ~300 MB)."""
    out = np.empty(len(i), dtype=np.float32)
    for start in range(0, len(i), chunk):
        stop = start + chunk
        out[start:stop] = np.einsum("ij,ij->i", unit[i[start:stop]], unit[j[start:stop]])
    return out
