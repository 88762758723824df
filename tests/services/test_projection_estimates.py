"""Projection time estimates: from the number of points, replaced by this process's own runs, words rounded."""

from __future__ import annotations

import pytest

from services import projection


@pytest.fixture(autouse=True)
def fresh_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projection, "_SECONDS_PER_UNIT", dict(projection._SECONDS_PER_UNIT))
    monkeypatch.setattr(projection, "_MEASURED", set())


def test_tsne_of_ten_thousand_points_is_estimated_near_the_measured_18_s() -> None:
    seconds = projection.estimate_seconds("tsne", 10_000, 2)
    assert seconds is not None and 15 <= seconds <= 22
    assert projection.time_caption("t-SNE", "tsne", 10_000) == (
        "t-SNE of 10,000 points in 2D: about 20 s (estimated from the number of points)."
    )


def test_umap_of_ten_thousand_points_gets_a_caption_and_small_sizes_none() -> None:
    caption = projection.time_caption("UMAP", "umap", 10_000)
    assert caption is not None and caption.startswith("UMAP of 10,000 points in 2D: about ")
    assert projection.time_caption("UMAP", "umap", 300) is None
    assert projection.time_caption("t-SNE", "tsne", 300) is None
    assert projection.estimate_seconds("pca", 10_000) is None


def test_estimates_grow_with_the_points_and_3d_tsne_costs_more() -> None:
    for method in ("tsne", "umap"):
        times = [projection.estimate_seconds(method, n) for n in (1_000, 2_000, 5_000, 10_000)]
        assert times == sorted(times) and times[0] < times[-1] / 10  # type: ignore[operator]
    assert projection.estimate_seconds("tsne", 5_000, 3) > projection.estimate_seconds("tsne", 5_000, 2)  # type: ignore[operator]


def test_a_run_on_this_machine_replaces_the_built_in_rate() -> None:
    before = projection.estimate_seconds("tsne", 8_000)
    projection.record_seconds("tsne", 4_000, 2, 30.0)  # a slow, busy machine
    after = projection.estimate_seconds("tsne", 8_000)
    assert before is not None and after is not None and after > 2 * 30.0 > before
    assert projection.estimate_seconds("tsne", 4_000) == pytest.approx(30.0)
    caption = projection.time_caption("t-SNE", "tsne", 4_000)
    assert caption == "t-SNE of 4,000 points in 2D: about 30 s (estimated from the last run on this server)."


def test_runs_of_few_points_do_not_set_the_rate() -> None:
    before = projection.estimate_seconds("umap", 10_000)
    projection.record_seconds("umap", 12, 2, 0.8)  # mostly set-up time
    assert projection.estimate_seconds("umap", 10_000) == before
    assert not projection.estimate_measured("umap")


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1.2, "about 5 s"), (18.0, "about 20 s"), (42.0, "about 40 s"), (95.0, "about 2 min"), (600.0, "about 10 min")],
)
def test_durations_are_rounded_as_estimates(seconds: float, words: str) -> None:
    assert projection.duration_words(seconds) == words
