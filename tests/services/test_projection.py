"""Projections, neighbours, clusters and model-comparison measures on synthetic vectors with known structure."""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np
import pytest
from scipy.stats import spearmanr

from services import projection
from services.projection import ProjectionError


def clustered(n: int = 300, d: int = 48, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n vectors around k well-separated centres, and the true cluster of each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 4
    labels = rng.integers(0, k, size=n)
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def purity(coords: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of points whose nearest other point (in the projection) has the same true label."""
    dist = ((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    return float((labels[dist.argmin(1)] == labels).mean())


def test_pca_matches_the_top_principal_axes_from_svd() -> None:
    x, _ = clustered()
    coords = projection.project(x, "pca", 3, normalize=False)
    centred = x - x.mean(0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    reference = centred @ vt[:3].T
    for axis in range(3):
        assert abs(abs(np.corrcoef(coords[:, axis], reference[:, axis])[0, 1]) - 1) < 1e-4
    assert coords.shape == (300, 3) and coords.dtype == np.float32
    assert coords[:, 0].var() >= coords[:, 1].var() >= coords[:, 2].var()


def test_pca_is_deterministic_and_handles_fewer_rows_than_dims() -> None:
    x, _ = clustered(n=2, d=10)
    coords = projection.project(x, "pca", 3)
    assert coords.shape == (2, 3)
    assert np.array_equal(coords, projection.project(x, "pca", 3))


def test_pca_of_10000_by_384_takes_under_a_second() -> None:
    x = np.random.default_rng(1).normal(size=(10_000, 384)).astype(np.float32)
    started = time.perf_counter()
    projection.project(x, "pca")
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_nonlinear_projections_keep_clusters_apart(method: str) -> None:
    x, labels = clustered(n=200)
    # 250 iterations (the least scikit-learn allows) is plenty for four separated blobs and halves the time.
    coords = projection.project(x, method, 2, **({"max_iter": 250} if method == "tsne" else {}))
    assert coords.shape == (200, 2) and np.isfinite(coords).all()
    assert purity(coords, labels) > 0.95


def test_umap_in_3d_on_a_handful_of_points_clamps_its_neighbours() -> None:
    x, _ = clustered(n=6)
    assert projection.project(x, "umap", 3).shape == (6, 3)


def test_projection_rejects_too_few_rows_bad_method_and_nan() -> None:
    x, _ = clustered(n=3)
    with pytest.raises(ProjectionError, match="at least 4"):
        projection.project(x, "tsne")
    with pytest.raises(ProjectionError, match="unknown projection method"):
        projection.project(x, "mds")  # type: ignore[arg-type]
    x[0, 0] = np.nan
    with pytest.raises(ProjectionError, match="NaN"):
        projection.project(x, "pca")


def test_nearest_neighbours_rank_by_cosine_and_can_exclude_self() -> None:
    base = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    found = projection.nearest_neighbours(base, np.array([10, 0.5]), k=3)
    assert found.indices.tolist() == [[0, 1, 2]]
    assert found.scores[0, 0] == pytest.approx(10 / np.hypot(10, 0.5), abs=1e-6)
    own = projection.nearest_neighbours(base, base, k=2, exclude_self=True)
    assert own.indices[0].tolist() == [1, 2]
    assert all(i not in row for i, row in enumerate(own.indices.tolist()))


def test_nearest_neighbours_in_chunks_agree_with_brute_force() -> None:
    x = np.random.default_rng(2).normal(size=(2500, 16)).astype(np.float32)
    found = projection.nearest_neighbours(x, x, k=5, exclude_self=True)
    sims = projection.cosine_similarity(x)
    np.fill_diagonal(sims, -np.inf)
    assert np.array_equal(found.indices, np.argsort(-sims, axis=1, kind="stable")[:, :5])


def test_cosine_similarity_matrix_is_symmetric_with_ones_on_the_diagonal() -> None:
    x, _ = clustered(n=20)
    sims = projection.cosine_similarity(x)
    assert np.allclose(sims, sims.T) and np.allclose(np.diag(sims), 1, atol=1e-5)
    with pytest.raises(ProjectionError, match="sizes differ"):
        projection.cosine_similarity(x, x[:, :5])


def test_kmeans_recovers_separated_clusters_and_cluster_order_groups_them() -> None:
    x, labels = clustered(n=120, k=3)
    found = projection.kmeans_clusters(x, 3)
    # Same partition up to renaming: each found cluster maps to exactly one true cluster.
    assert len({(a, b) for a, b in zip(found, labels, strict=True)}) == 3
    order = projection.cluster_order(x, found)
    assert sorted(order.tolist()) == list(range(120))
    runs = [found[i] for i in order]
    assert sum(1 for a, b in itertools.pairwise(runs) if a != b) == 2
    assert projection.kmeans_clusters(x[:2], 8).tolist() in ([0, 1], [1, 0])


def test_kmeans_on_many_rows_takes_mini_batches_and_still_recovers_separated_clusters() -> None:
    x, labels = clustered(n=projection.KMEANS_MINIBATCH_FROM + 600, k=4)
    found = projection.kmeans_clusters(x, 4)
    assert len({(a, b) for a, b in zip(found, labels, strict=True)}) == 4
    # Repeated rows count once when k is clamped: 3 distinct rows give 3 clusters, however many copies.
    copies = np.repeat(x[:3], 2_000, axis=0)
    assert sorted(set(projection.kmeans_clusters(copies, 8).tolist())) == [0, 1, 2]


def test_clustering_is_imported_once_in_the_background() -> None:
    first = projection.preload_clustering()
    assert projection.preload_clustering() is first
    first.join(timeout=60)
    assert not first.is_alive() and "sklearn.cluster" in sys.modules


def test_neighbour_overlap_is_one_for_a_rotation_and_low_for_noise() -> None:
    x, _ = clustered(n=150, d=32)
    rotation, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(32, 32)))
    assert np.allclose(projection.neighbour_overlap(x, x @ rotation, k=10), 1.0)
    noise = np.random.default_rng(4).normal(size=(150, 8))
    assert projection.neighbour_overlap(x, noise, k=10).mean() < 0.3
    with pytest.raises(ProjectionError, match="same texts"):
        projection.neighbour_overlap(x, x[:10])


def test_similarity_spearman_matches_scipy_on_all_pairs_and_samples_large_sets() -> None:
    x, _ = clustered(n=60, d=16)
    y = x + np.random.default_rng(5).normal(size=x.shape).astype(np.float32) * 2
    i, j = np.triu_indices(60, 1)
    sa, sb = projection.cosine_similarity(x)[i, j], projection.cosine_similarity(y)[i, j]
    assert projection.similarity_spearman(x, y) == pytest.approx(spearmanr(sa, sb).statistic, abs=1e-4)
    assert projection.similarity_spearman(x, x) == pytest.approx(1.0)
    sampled = projection.similarity_spearman(x, y, max_pairs=500)
    assert sampled == pytest.approx(spearmanr(sa, sb).statistic, abs=0.15)


def test_umap_of_5000_by_384_takes_under_30_seconds() -> None:
    x, _ = clustered(n=5000, d=384, k=10)
    started = time.perf_counter()
    coords = projection.project(x, "umap")
    assert time.perf_counter() - started < 30.0
    assert coords.shape == (5000, 2)


def test_neighbour_overlap_on_chosen_rows_equals_those_rows_of_the_full_result() -> None:
    x, _ = clustered(n=120, d=16)
    y = x + np.random.default_rng(6).normal(size=x.shape).astype(np.float32) * 3
    full = projection.neighbour_overlap(x, y, k=5)
    rows = np.array([3, 50, 7, 119])
    assert np.array_equal(projection.neighbour_overlap(x, y, k=5, rows=rows), full[rows])
