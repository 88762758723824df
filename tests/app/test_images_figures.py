"""The image figures: thumbnails placed along the heatmap's axes and at every projected point."""

from __future__ import annotations

import numpy as np
import pytest

from app.components.image_figures import projection_scatter, similarity_heatmap

THUMBS = [f"data:image/png;base64,{i}" for i in range(3)]
NAMES = ["a.png", "b.png", "c.png"]


def test_heatmap_puts_each_thumbnail_above_its_column_and_left_of_its_row() -> None:
    similarity = np.array([[1.0, 0.2, 0.1], [0.2, 1.0, 0.5], [0.1, 0.5, 1.0]], dtype=np.float32)
    figure = similarity_heatmap(similarity, NAMES, THUMBS)
    images = figure.layout.images
    assert len(images) == 6
    columns = {(im.x, im.y): im.source for im in images if im.y == -1}
    rows = {(im.x, im.y): im.source for im in images if im.x == -1}
    assert columns == {(i, -1): THUMBS[i] for i in range(3)}
    assert rows == {(-1, i): THUMBS[i] for i in range(3)}
    # The y axis runs downwards like a matrix, with room for the thumbnail row above row 0.
    assert tuple(figure.layout.yaxis.range) == (2.5, -1.5)
    assert "b.png · c.png" in figure.data[0].text[1][2]


def test_projection_draws_each_image_at_its_point_and_names_it_on_hover() -> None:
    coords = np.array([[0.0, 0.0], [1.0, 0.5], [-1.0, 2.0]], dtype=np.float32)
    figure = projection_scatter(coords, NAMES, THUMBS, ["red", "red", "blue"])
    assert [(im.x, im.y, im.source) for im in figure.layout.images] == [
        (0.0, 0.0, THUMBS[0]),
        (1.0, 0.5, THUMBS[1]),
        (-1.0, 2.0, THUMBS[2]),
    ]
    assert list(figure.data[0].customdata[2]) == ["c.png", "blue"]
    assert "customdata[0]" in figure.data[0].hovertemplate


def test_figures_refuse_mismatched_inputs() -> None:
    with pytest.raises(ValueError):
        similarity_heatmap(np.eye(2, dtype=np.float32), NAMES, THUMBS)
    with pytest.raises(ValueError):
        projection_scatter(np.zeros((3, 2), dtype=np.float32), NAMES, THUMBS[:2])
